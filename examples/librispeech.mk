# A full layer-wise study of one model on LibriSpeech, with the papers' sample sizes.
#
#   make -f examples/librispeech.mk MODEL=hubert_base CKPT=/ckpt/hubert_base_ls960.pt \
#        LIBRISPEECH=/data/LibriSpeech ALIGN=/data/librispeech_alignments -j 8
#
# Every analysis is one target per layer, so `-j N` scores N layers at once; each runs with
# `lwa --threads 1` so N jobs use N cores. Extraction (one pass over the audio per span) is
# one target per span. Finished steps are remembered by stamp files under $(STAMPS): a rerun
# does only what is missing, and lwa itself reuses every stored result that is still current.
# `make -n -f examples/librispeech.mk ...` prints the commands without running them.
#
# Variables (override on the command line):
#   MODEL        registry name (`lwa models`), e.g. hubert_base, wav2vec_large
#   CKPT         checkpoint: fairseq/unilm .pt file or a Hugging Face model directory
#   LIBRISPEECH  directory holding dev-clean/, train-clean-100/, train-clean-360/
#   ALIGN        directory of the MFA TextGrids (same layout as LIBRISPEECH)
#   TRAIN_SPLITS the training splits behind the virtual split train-clean
#   WS           workspace (default: study/$(MODEL)/workspace); REPORT its report directory
#   NLAYERS      transformer layers L (T0..TL); guessed from MODEL, override for your own
#   NCONV        conv blocks (7; 0 for AV-HuBERT, which has no C layers)
#   ITERS        MI repetitions (k-means runs), e.g. "0 1 2"
#   PROBES       probing tasks to run (`lwa probe`; phone with MDL): "phone word speaker";
#                empty for none (phone needs a train-clean frame sample and extraction)
#   OTHER, OTHER_CKPT   a second model for cca-inter (optional)
#   DEVICE       cuda or cpu (default: auto);  LWA: the lwa command

MODEL       ?= hubert_base
CKPT        ?=
LIBRISPEECH ?=
ALIGN       ?=
WS          ?= study/$(MODEL)/workspace
REPORT      ?= $(dir $(WS))report
STAMPS      ?= $(dir $(WS))stamps
LWA         ?= lwa
DEVICE      ?= auto
ITERS       ?= 0
PROBES      ?= phone word speaker
OTHER       ?=
OTHER_CKPT  ?=
TRAIN_SPLITS ?= train-clean-100 train-clean-360

# The papers' sample sizes: 500 utterances for frame-level CCA, all 39 phones (200 per phone
# on dev-clean, 3000-7000 on train-clean), the 500 most frequent words (15 per word on
# dev-clean, 600-1200 on train-clean), 200 instances per word-similarity word.
UTTERANCES  ?= 500
WORDS       ?= 500
INSTANCES   ?= 200

_LARGE := $(filter %_large %_large_random %large_lrs3_vc2 %large_lrs3_vc2_random xlsr53 \
  xlsr53_random xlsr_300m xlsr_300m_random,$(MODEL))
_EIGHT := $(filter fastvgs_coco fastvgs_places fastvgs_coco_random fastvgs_places_random,$(MODEL))
NLAYERS ?= $(if $(_LARGE),24,$(if $(_EIGHT),8,12))
NCONV   ?= $(if $(filter avhubert%,$(MODEL)),0,7)

_seq = $(shell seq $(1) $(2))
T_ALL  := $(addprefix T,$(call _seq,0,$(NLAYERS)))
T_UP   := $(addprefix T,$(call _seq,1,$(NLAYERS)))
C_ALL  := $(if $(filter-out 0,$(NCONV)),$(addprefix C,$(call _seq,1,$(NCONV))))

export LWA_WORKSPACE := $(WS)
RUN := $(LWA) --threads 1
X   := $(LWA) extract --model $(MODEL) --checkpoint $(CKPT) --device $(DEVICE)

# Per-layer result stamps of each analysis.
MEL_DONE    := $(if $(C_ALL),$(foreach l,$(C_ALL) $(T_UP),$(STAMPS)/cca-mel/$(l)))
INTRA_DONE  := $(foreach l,$(T_UP),$(STAMPS)/cca-intra/$(l))
PHONE_DONE  := $(foreach l,$(T_ALL),$(STAMPS)/cca-phone/$(l))
WORD_DONE   := $(foreach l,$(T_ALL),$(STAMPS)/cca-word/$(l))
MIP_DONE    := $(foreach i,$(ITERS),$(foreach l,$(T_ALL),$(STAMPS)/mi-phone/$(l).iter$(i)))
MIW_DONE    := $(foreach i,$(ITERS),$(foreach l,$(T_ALL),$(STAMPS)/mi-word/$(l).iter$(i)))
WSIM_DONE   := $(foreach l,$(T_ALL),$(STAMPS)/wordsim/$(l))
ABX_DONE    := $(foreach l,$(T_ALL),$(STAMPS)/abx/$(l))
INTER_DONE  := $(if $(OTHER),$(foreach l,$(T_ALL),$(STAMPS)/cca-inter/$(l)))
PROBE_DONE  := $(foreach t,$(PROBES),$(foreach l,$(T_ALL),$(STAMPS)/probe-$(t)/$(l)))
ALL_DONE    := $(MEL_DONE) $(INTRA_DONE) $(PHONE_DONE) $(WORD_DONE) $(MIP_DONE) $(MIW_DONE) \
               $(WSIM_DONE) $(INTER_DONE) $(ABX_DONE) $(PROBE_DONE)

.PHONY: all check analyses report clean-stamps
.DELETE_ON_ERROR:

all: report

check:
	@test -n "$(CKPT)" || { echo "set CKPT=<checkpoint file or directory>"; exit 2; }
	@test -n "$(LIBRISPEECH)" || { echo "set LIBRISPEECH=<LibriSpeech directory>"; exit 2; }
	@test -n "$(ALIGN)" || { echo "set ALIGN=<directory of MFA TextGrids>"; exit 2; }

analyses: $(ALL_DONE)

report: $(ALL_DONE)
	$(LWA) report --out $(REPORT)
	$(LWA) report --out $(REPORT)/pdf --format pdf --dpi 300

clean-stamps:
	rm -rf $(STAMPS)

# -- data: alignments and samples ----------------------------------------------------------
$(STAMPS)/alignments: | check
	@mkdir -p $(@D)
	$(LWA) prepare-alignments --corpus $(LIBRISPEECH) --alignments $(ALIGN) \
	  --split dev-clean $(addprefix --split ,$(TRAIN_SPLITS))
	touch $@

$(STAMPS)/samples: $(STAMPS)/alignments
	$(LWA) sample frame --split dev-clean --utterances $(UTTERANCES)
	$(LWA) sample frame --split train-clean --utterances $(UTTERANCES)
	$(LWA) sample phone --split dev-clean
	$(LWA) sample phone --split train-clean
	$(LWA) sample word --split dev-clean --words $(WORDS)
	$(LWA) sample word --split train-clean --words $(WORDS)
	$(LWA) sample wordsim --split train-clean --instances $(INSTANCES)
	$(LWA) embeddings one-hot --words $(WORDS)
	touch $@

# -- features: one extraction per span and split ---------------------------------------------
$(STAMPS)/x-frame: $(STAMPS)/samples
	$(X) --split dev-clean --span frame
	touch $@
$(STAMPS)/x-frame-train: $(STAMPS)/samples
	$(X) --split train-clean --span frame
	touch $@
$(STAMPS)/x-frame-local: $(STAMPS)/samples
	$(X) --split dev-clean --span frame --rep local
	touch $@
$(STAMPS)/x-phone: $(STAMPS)/samples
	$(X) --split dev-clean --span phone
	$(X) --split train-clean --span phone
	touch $@
$(STAMPS)/x-word: $(STAMPS)/samples
	$(X) --split dev-clean --span word
	$(X) --split train-clean --span word
	touch $@
$(STAMPS)/x-wordsim: $(STAMPS)/samples
	$(X) --split train-clean --span wordsim
	touch $@
$(STAMPS)/x-other: $(STAMPS)/samples
	$(LWA) extract --model $(OTHER) --checkpoint $(OTHER_CKPT) --device $(DEVICE) \
	  --split dev-clean --span frame
	touch $@

# -- analyses: one target per layer (make -j scores layers in parallel) ------------------------
$(STAMPS)/cca-mel/%: $(STAMPS)/x-frame-local
	@mkdir -p $(@D)
	$(RUN) cca mel --model $(MODEL) --layer $* --device $(DEVICE)
	touch $@
$(STAMPS)/cca-intra/%: $(STAMPS)/x-frame
	@mkdir -p $(@D)
	$(RUN) cca intra --model $(MODEL) --layer $* --device $(DEVICE)
	touch $@
$(STAMPS)/cca-inter/%: $(STAMPS)/x-frame $(STAMPS)/x-other
	@mkdir -p $(@D)
	$(RUN) cca inter --model $(MODEL) --other-model $(OTHER) --layer $* --device $(DEVICE)
	touch $@
$(STAMPS)/cca-phone/%: $(STAMPS)/x-phone
	@mkdir -p $(@D)
	$(RUN) cca phone --model $(MODEL) --layer $* --device $(DEVICE)
	touch $@
$(STAMPS)/cca-word/%: $(STAMPS)/x-word
	@mkdir -p $(@D)
	$(RUN) cca word --model $(MODEL) --layer $* --device $(DEVICE)
	touch $@
$(STAMPS)/mi-phone/%: $(STAMPS)/x-phone
	@mkdir -p $(@D)
	$(RUN) mi phone --model $(MODEL) --layer $(basename $*) --iter $(subst .iter,,$(suffix $*)) \
	  --device $(DEVICE)
	touch $@
$(STAMPS)/mi-word/%: $(STAMPS)/x-word
	@mkdir -p $(@D)
	$(RUN) mi word --model $(MODEL) --layer $(basename $*) --iter $(subst .iter,,$(suffix $*)) \
	  --device $(DEVICE)
	touch $@
$(STAMPS)/wordsim/%: $(STAMPS)/x-wordsim
	@mkdir -p $(@D)
	$(RUN) wordsim --model $(MODEL) --layer $*
	touch $@
$(STAMPS)/abx/%: $(STAMPS)/x-frame
	@mkdir -p $(@D)
	$(RUN) abx --model $(MODEL) --layer $* --speaker both --device $(DEVICE)
	touch $@
$(STAMPS)/probe-phone/%: $(STAMPS)/x-frame $(STAMPS)/x-frame-train
	@mkdir -p $(@D)
	$(RUN) probe phone --model $(MODEL) --layer $* --mdl --device $(DEVICE)
	touch $@
$(STAMPS)/probe-word/%: $(STAMPS)/x-word
	@mkdir -p $(@D)
	$(RUN) probe word --model $(MODEL) --layer $* --device $(DEVICE)
	touch $@
$(STAMPS)/probe-speaker/%: $(STAMPS)/x-frame
	@mkdir -p $(@D)
	$(RUN) probe speaker --model $(MODEL) --layer $* --device $(DEVICE)
	touch $@
