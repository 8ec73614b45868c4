#!/usr/bin/env bash
# SLURM variant of examples/librispeech.mk: one job per model, the recipe's layers in parallel
# on the job's cores (each analysis process runs with `lwa --threads 1`), the GPU for
# extraction and CCA/k-means. Submit from the repository root, one job per model:
#
#   sbatch --export=ALL,MODEL=hubert_base,CKPT=/ckpt/hubert_base_ls960.pt,\
#   LIBRISPEECH=/data/LibriSpeech,ALIGN=/data/librispeech_alignments examples/slurm.sh
#
#   for m in wav2vec_base hubert_base wavlm_base; do
#     sbatch --job-name="lwa-$m" --export=ALL,MODEL=$m,CKPT=/ckpt/$m.pt,... examples/slurm.sh
#   done
#
# Jobs of different models may share LIBRISPEECH and ALIGN (read only); each writes its own
# workspace (study/<model>/). A job that hits its time limit can simply be resubmitted:
# finished steps are stamped, extraction resumes from the last finished utterance, and
# stored results are reused while current. Set WS to put workspaces on scratch storage.
#
#SBATCH --job-name=lwa-study
#SBATCH --cpus-per-task=16
#SBATCH --mem=64G
#SBATCH --gres=gpu:1
#SBATCH --time=24:00:00
#SBATCH --output=lwa-%x-%j.log
set -euo pipefail
: "${MODEL:?set MODEL (see lwa models)}" "${CKPT:?set CKPT}" "${LIBRISPEECH:?set LIBRISPEECH}"
: "${ALIGN:?set ALIGN (the MFA TextGrids)}"
JOBS=${SLURM_CPUS_PER_TASK:-$(nproc)}
WS=${WS:-study/$MODEL/workspace}
# --wait: processes queue for a workspace lock instead of failing while another holds it.
LWA=${LWA:-lwa --wait}
echo "lwa study of $MODEL on $(hostname): $JOBS parallel layers, workspace $WS"
exec make -f examples/librispeech.mk -j "$JOBS" MODEL="$MODEL" CKPT="$CKPT" \
  LIBRISPEECH="$LIBRISPEECH" ALIGN="$ALIGN" WS="$WS" LWA="$LWA" DEVICE="${DEVICE:-auto}" \
  ${NLAYERS:+NLAYERS="$NLAYERS"} ${ITERS:+ITERS="$ITERS"} ${OTHER:+OTHER="$OTHER"} \
  ${OTHER_CKPT:+OTHER_CKPT="$OTHER_CKPT"}
