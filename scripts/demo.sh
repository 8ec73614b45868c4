#!/usr/bin/env bash
# The end-to-end demo behind `make demo`: bundled synthetic corpus + tiny random-weight models
# through every step of the pipeline. Numbers from it show that the pipeline runs; they say
# nothing about real speech models (the weights are random, the speech is synthetic).
set -euo pipefail
LWA=${LWA:-lwa}
DEMO_DIR=${DEMO_DIR:-demo-run}
export LWA_WORKSPACE="$DEMO_DIR/workspace"
M=demo_wav2vec2
CKPT="$DEMO_DIR/models/$M"
mkdir -p "$DEMO_DIR"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "bundled corpus and tiny demo models"
$LWA demo corpus "$DEMO_DIR/corpus"
$LWA demo models "$DEMO_DIR/models"

step "alignments and samples"
$LWA prepare-alignments --corpus "$DEMO_DIR/corpus/LibriSpeech" \
  --alignments "$DEMO_DIR/corpus/alignments" --split dev-clean --split train-clean
$LWA sample frame --split dev-clean --utterances 40
$LWA sample phone --split dev-clean
$LWA sample word --split dev-clean --words 60
$LWA sample phone --split train-clean
$LWA sample word --split train-clean --words 60
$LWA sample wordsim --split train-clean --instances 20
$LWA sample frame --split train-clean --utterances 40  # for the phone probe's training set
# Linguistic attributes: the bundled demo oracles (QVEC format) and the all-words sample.
$LWA demo oracles "$DEMO_DIR/oracles"
$LWA embeddings semantic --path "$DEMO_DIR/oracles/semantic.txt"
$LWA embeddings syntactic --path "$DEMO_DIR/oracles/syntactic.txt"
$LWA sample allwords --split train-clean --instances 5

step "feature extraction ($M)"
# One call per split and rep: the model is loaded once for all the spans given.
$LWA extract --model $M --checkpoint "$CKPT" --split dev-clean \
  --span frame --span phone --span word
$LWA extract --model $M --checkpoint "$CKPT" --split train-clean \
  --span frame --span phone --span word --span wordsim --span allwords
$LWA extract --model $M --checkpoint "$CKPT" --split dev-clean --span frame --rep local
# A second model, extracted in two shards and combined, for the inter-model CCA.
for i in 0 1; do
  $LWA extract --model demo_hubert --checkpoint "$DEMO_DIR/models/demo_hubert.pt" \
    --split dev-clean --span frame --shard $i/2
done
$LWA combine --model demo_hubert --split dev-clean --span frame
# The demo Whisper (encoder of a HF WhisperForConditionalGeneration; 30 s windows, 20 ms frames).
WH=demo_whisper
$LWA extract --model $WH --checkpoint "$DEMO_DIR/models/$WH" --split dev-clean \
  --span frame --span phone --span word
$LWA extract --model $WH --checkpoint "$DEMO_DIR/models/$WH" --split dev-clean \
  --span frame --rep local

step "analyses"
$LWA embeddings one-hot --words 60
$LWA cca mel --model $M
$LWA cca intra --model $M
$LWA cca inter --model $M --other-model demo_hubert
$LWA cca inter --model $M --other-model $WH
for exp in mel phone word; do $LWA cca $exp --model $WH; done
# Layer x layer similarity maps: the demo wav2vec 2.0 against the demo HuBERT and the demo
# Whisper encoder (all three at 20 ms, so frames pair one to one).
$LWA similarity --model $M --other-model demo_hubert --measure cka --measure cka-debiased \
  --measure procrustes --measure rsa --measure mknn --rsa-rows 500 --knn-rows 500
$LWA similarity --model $M --other-model $WH --measure cka --measure cka-debiased
$LWA cca phone --model $M
$LWA cca word --model $M
$LWA cca semantic --model $M
$LWA cca syntactic --model $M
$LWA mi phone --model $M --clusters 40
$LWA mi word --model $M --clusters 40
$LWA wordsim --model $M
# Word segmentation: tune the grid per layer on the frame sample, apply the tuned T2
# configuration, and score it against the sample's aligned words in the vqwordseg layout.
$LWA segment tune --model $M
$LWA segment apply --model $M --split dev-clean --layer T2 --from-tune \
  --out "$DEMO_DIR/segment/hyp" --force
$LWA segment reference --split dev-clean --out "$DEMO_DIR/segment/ref" --force
$LWA segment score --ref "$DEMO_DIR/segment/ref" --hyp "$DEMO_DIR/segment/hyp"
$LWA awd --model $M
$LWA awd --model $M --min-chars 4 --max-per-word 5
$LWA awd --model $M --speakers different
$LWA awd --model $M --speakers same
# Phone ABX per layer, within and across speaker (the demo corpus has 8 speakers).
$LWA abx --model $M --speaker both

step "spoken STS (demo scores are COMPUTED word overlap, not human judgements)"
$LWA demo sts "$DEMO_DIR/sts" --corpus "$DEMO_DIR/corpus/LibriSpeech" --max-pairs-per-speaker 8
$LWA prepare-sts --from "$DEMO_DIR/sts/sts.tsv" --name demo \
  --score-note "computed: 5 x word-overlap Jaccard of the two transcripts (not human judgements)"
$LWA extract --model $M --checkpoint "$CKPT" --split sts --sample demo --span utt --layer all
$LWA sts --model $M --pairs demo

step "probing classifiers (linear; phone frames train-clean → dev-clean, dev-clean speakers)"
$LWA probe phone --model $M --mdl
$LWA probe speaker --model $M

step "report"
$LWA report --out "$DEMO_DIR/report"
echo
echo "Demo finished: workspace in $LWA_WORKSPACE, report in $DEMO_DIR/report/index.html"
echo "Profile figure (every analysis per model, min-max normalised): $DEMO_DIR/report/profile.png"
echo "Overview figure (analyses x models): $DEMO_DIR/report/overview.png"
test -s "$DEMO_DIR/report/profile.png" && test -s "$DEMO_DIR/report/overview.png"
