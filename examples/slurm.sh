#!/usr/bin/env bash
# SLURM variant of examples/librispeech.mk: one job array over the models, all in one
# workspace that shares the samples. Run it (not sbatch it) from the repository root on the
# login node; it submits three steps, each waiting for the one before:
#
#   1. data    one job: alignments, samples and embedding maps (shared by every model);
#   2. models  one array task per model: its extractions and analyses, the layers in parallel
#              on the task's cores (each analysis runs with `lwa --threads 1`), the GPU for
#              extraction and CCA/k-means;
#   3. report  one job: `cca inter` (it needs every model's features), then the report
#              across all models.
#
#   MODELS="wav2vec_base hubert_base wavlm_base" \
#   CKPT_wav2vec_base=/ckpt/wav2vec_small.pt CKPT_hubert_base=/ckpt/hubert_base_ls960.pt \
#   CKPT_wavlm_base=/ckpt/WavLM-Base.pt \
#   LIBRISPEECH=/data/LibriSpeech ALIGN=/data/librispeech_alignments bash examples/slurm.sh
#
# Every variable of the recipe (WS, ITERS, INTER_WITH, GLOVE, DEVICE, ...) is passed through
# the environment (make reads it). A task that hits its time limit can be resubmitted as is:
# finished steps are stamped per model, extraction resumes from the last finished utterance,
# and stored results are reused while current. Set WS to put the workspace on scratch storage.
# SBATCH_OPTS adds sbatch options to every step (e.g. "--account=abc --partition=gpu").
#
#SBATCH --job-name=lwa-study
#SBATCH --cpus-per-task=16
#SBATCH --mem=64G
#SBATCH --gres=gpu:1
#SBATCH --time=24:00:00
#SBATCH --output=lwa-%x-%A_%a.log
set -euo pipefail
: "${MODELS:?set MODELS (see lwa models)}" "${LIBRISPEECH:?set LIBRISPEECH}"
: "${ALIGN:?set ALIGN (the MFA TextGrids)}"
export WS=${WS:-study/workspace}
# --wait: processes queue for a workspace file instead of failing while another holds it.
export LWA=${LWA:-lwa --wait}
read -r -a models <<<"$MODELS"
recipe=(make -f examples/librispeech.mk)

case "${LWA_STEP:-submit}" in
  submit)
    for m in "${models[@]}"; do
      var="CKPT_$m"
      : "${!var:?set $var (the checkpoint of $m)}"
      export "${var?}"
    done
    # shellcheck disable=SC2086
    data=$(sbatch --parsable ${SBATCH_OPTS:-} --job-name=lwa-data --gres=none --cpus-per-task=2 \
      --export=ALL,LWA_STEP=data "$0")
    # shellcheck disable=SC2086
    array=$(sbatch --parsable ${SBATCH_OPTS:-} --job-name=lwa-models \
      --dependency="afterok:$data" --array="0-$((${#models[@]} - 1))" \
      --export=ALL,LWA_STEP=model "$0")
    # shellcheck disable=SC2086
    report=$(sbatch --parsable ${SBATCH_OPTS:-} --job-name=lwa-report \
      --dependency="afterok:$array" --export=ALL,LWA_STEP=report "$0")
    echo "submitted: data $data, models $array (${#models[@]} tasks: $MODELS), report $report"
    ;;
  data)
    exec "${recipe[@]}" data
    ;;
  model)
    m=${models[$SLURM_ARRAY_TASK_ID]}
    jobs=${SLURM_CPUS_PER_TASK:-$(nproc)}
    echo "lwa study of $m on $(hostname): $jobs parallel layers, workspace $WS"
    # cca inter needs the other model's features: the report step runs it, once all are there.
    exec "${recipe[@]}" -j "$jobs" MODELS="$m" SKIP_ANALYSES=cca-inter analyses
    ;;
  report)
    exec "${recipe[@]}" -j "${SLURM_CPUS_PER_TASK:-1}" report
    ;;
  *)
    echo "unknown LWA_STEP=$LWA_STEP (submit, data, model, report)" >&2
    exit 2
    ;;
esac
