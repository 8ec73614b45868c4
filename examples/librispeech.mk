# A layer-wise study of several models on LibriSpeech, in one workspace, with the papers'
# sample sizes, ending in one report that compares the models.
#
#   make -f examples/librispeech.mk -j 8 MODELS="wav2vec_base hubert_base" \
#        CKPT_wav2vec_base=/ckpt/wav2vec_small.pt CKPT_hubert_base=/ckpt/hubert_base_ls960.pt \
#        LIBRISPEECH=/data/LibriSpeech ALIGN=/data/librispeech_alignments
#
# The samples are drawn once and shared by every model (so the models are compared on the same
# utterances and segments). Each analysis is one target per model and layer, so `-j N` scores
# N layers at once; each runs with `lwa --threads 1` so N jobs use N cores (PER_LAYER=0 makes
# it one target per model and analysis, scoring all layers in one process: fewer processes on
# a small machine). Extraction is one target per model, span and split. Finished steps are
# stamped under $(STAMPS)/<model>/, so a rerun does only what is missing, also after
# `lwa clean features` has removed the feature files (their results stay current); lwa itself
# reuses every stored result that is still current. `make -n -f examples/librispeech.mk ...`
# prints the commands without running them.
#
# Variables (override on the command line or in the environment):
#   MODELS       registry names or your own (`lwa models`), e.g. "hubert_base wavlm_base"
#   CKPT_<model> checkpoint of <model>: fairseq/unilm .pt file or a Hugging Face directory;
#                CKPT is the fallback (enough for a single model: MODEL=... CKPT=...)
#   LIBRISPEECH  directory holding dev-clean/ and the TRAIN_SPLITS
#   ALIGN        directory of the MFA TextGrids (same layout as LIBRISPEECH)
#   TRAIN_SPLITS the training splits behind the virtual split train-clean
#   WS           workspace (default: study/workspace); REPORT the report directory
#   NLAYERS_<model>, NCONV_<model>  transformer layers L and conv blocks: read by default
#                from `lwa models --check <checkpoint> --json` (cached in the model's stamps)
#   ITERS        MI repetitions (k-means runs), e.g. "0 1 2"
#   INTER_WITH   a model of MODELS: every other model gets `cca inter` and a layer × layer
#                `lwa similarity` map against it
#   GLOVE, AGWE  word-embedding files: add `cca glove` / `cca agwe` when given
#   SEMANTIC, SYNTACTIC  attribute oracles (QVEC format): add `cca semantic` / `cca syntactic`
#   STS          spoken-STS manifest or parquet directory (`lwa prepare-sts --from`): adds `sts`
#   ANALYSES     the analyses to run (default: every one whose inputs are given);
#                SKIP_ANALYSES leaves some out
#   DEVICE       cuda or cpu (default: auto);  LWA: the lwa command;  THREADS per analysis

MODEL       ?= hubert_base
MODELS      ?= $(MODEL)
CKPT        ?=
LIBRISPEECH ?=
ALIGN       ?=
WS          ?= study/workspace
REPORT      ?= $(dir $(WS))report
STAMPS      ?= $(dir $(WS))stamps
LWA         ?= lwa
DEVICE      ?= auto
THREADS     ?= 1
PER_LAYER   ?= 1
ITERS       ?= 0
INTER_WITH  ?=
GLOVE       ?=
AGWE        ?=
SEMANTIC    ?=
SYNTACTIC   ?=
STS         ?=
STS_NAME    ?= sts
TRAIN_SPLITS ?= train-clean-100 train-clean-360

# The papers' sample sizes: 500 utterances for frame-level CCA, all 39 phones (200 per phone
# on dev-clean, 3000-7000 on train-clean), the 500 most frequent words (15 per word on
# dev-clean, 600-1200 on train-clean), 200 instances per word-similarity word.
UTTERANCES  ?= 500
WORDS       ?= 500
INSTANCES   ?= 200
ALLWORDS_INSTANCES ?= 200
# Extra options per analysis, e.g. MI_PHONE_OPTS="--clusters 500", SEGMENT_OPTS="--grid g.json"
MI_PHONE_OPTS ?=
MI_WORD_OPTS  ?=
SEGMENT_OPTS  ?=
AWD_OPTS      ?=

ANALYSES ?= cca-mel cca-intra cca-phone cca-word mi-phone mi-word wordsim segment awd abx \
  probe-phone probe-word probe-speaker $(if $(INTER_WITH),cca-inter similarity) $(if $(GLOVE),cca-glove) $(if $(AGWE),cca-agwe) \
  $(if $(SEMANTIC),cca-semantic) $(if $(SYNTACTIC),cca-syntactic) $(if $(STS),sts)
SKIP_ANALYSES ?=
override ANALYSES := $(filter-out $(SKIP_ANALYSES),$(ANALYSES))

export LWA_WORKSPACE := $(WS)
RUN  := $(LWA) --threads $(THREADS)
ckpt  = $(or $(CKPT_$(1)),$(CKPT))

# -- layers of each model: from `lwa models --check`, not guessed from its name ---------------
# $(call layers,model) sets NLAYERS_<model> and NCONV_<model> (unless given) from a cached file.
_seq    = $(shell seq $(1) $(2))
T_ALL   = $(addprefix T,$(call _seq,0,$(NLAYERS_$(1))))
T_UP    = $(addprefix T,$(call _seq,1,$(NLAYERS_$(1))))
C_ALL   = $(if $(filter-out 0,$(NCONV_$(1))),$(addprefix C,$(call _seq,1,$(NCONV_$(1)))))
# The layer targets of analysis $(2) for model $(1) (one `all` target with PER_LAYER=0).
lay_cca-mel   = $(if $(C_ALL),$(C_ALL) $(T_UP))
lay_cca-intra = $(T_UP)
lay_cca-inter = $(if $(filter-out $(INTER_WITH),$(1)),$(T_ALL))
lay_similarity = $(lay_cca-inter)
_lay     = $(if $(filter undefined,$(origin lay_$(2))),$(T_ALL),$(call lay_$(2),$(1)))
_applies = $(if $(filter cca-inter similarity,$(2)),$(filter-out $(INTER_WITH),$(1)),$(if \
  $(filter cca-mel,$(2)),$(filter-out 0,$(NCONV_$(1))),yes))
_layers  = $(if $(filter 1,$(PER_LAYER)),$(_lay),$(if $(_applies),all))
_iters   = $(if $(filter mi-%,$(2)),$(foreach l,$(3),$(addprefix $(l).iter,$(ITERS))),$(3))
done_of  = $(addprefix $(STAMPS)/$(1)/$(2)/,$(call _iters,$(1),$(2),$(call _layers,$(1),$(2))))
define LAYERS_OF
ifeq ($(NLAYERS_$(1))$(NLAYERS),)
include $(STAMPS)/$(1)/layers.mk
endif
NLAYERS_$(1) ?= $(NLAYERS)
NCONV_$(1) ?= $(NCONV)
endef
NLAYERS ?=
NCONV   ?=
$(foreach m,$(MODELS),$(eval $(call LAYERS_OF,$(m))))
ALL_DONE := $(foreach m,$(MODELS),$(foreach a,$(ANALYSES),$(call done_of,$(m),$(a))))

# What each analysis reads (stamps of the model's extractions; docs/study.md §4).
needs_cca-mel       = x-frame-local x-frame
needs_cca-intra     = x-frame
needs_cca-inter     = x-frame
needs_cca-phone     = x-phone-dev
needs_cca-word      = x-word-dev
needs_cca-glove     = x-word-dev
needs_cca-agwe      = x-word-dev
needs_cca-semantic  = x-allwords
needs_cca-syntactic = x-allwords
needs_mi-phone      = x-phone-dev x-phone-train
needs_mi-word       = x-word-dev x-word-train
needs_wordsim       = x-wordsim
needs_segment       = x-frame
needs_awd           = x-word-dev
needs_sts           = x-sts
needs_abx           = x-frame
needs_probe-phone   = x-frame x-frame-train
needs_probe-word    = x-word-dev x-word-train
needs_probe-speaker = x-frame
needs_similarity    = x-frame

# The command of each analysis for model $(1) (the layer and iteration are added per target).
cmd_cca-mel       = cca mel --model $(1) --device $(DEVICE)
cmd_cca-intra     = cca intra --model $(1) --device $(DEVICE)
cmd_cca-inter     = cca inter --model $(1) --other-model $(INTER_WITH) --device $(DEVICE)
cmd_cca-phone     = cca phone --model $(1) --device $(DEVICE)
cmd_cca-word      = cca word --model $(1) --device $(DEVICE)
cmd_cca-glove     = cca glove --model $(1) --device $(DEVICE)
cmd_cca-agwe      = cca agwe --model $(1) --device $(DEVICE)
cmd_cca-semantic  = cca semantic --model $(1) --device $(DEVICE)
cmd_cca-syntactic = cca syntactic --model $(1) --device $(DEVICE)
cmd_mi-phone      = mi phone --model $(1) --device $(DEVICE) $(MI_PHONE_OPTS)
cmd_mi-word       = mi word --model $(1) --device $(DEVICE) $(MI_WORD_OPTS)
cmd_wordsim       = wordsim --model $(1)
cmd_segment       = segment tune --model $(1) $(SEGMENT_OPTS)
cmd_awd           = awd --model $(1) $(AWD_OPTS)
cmd_sts           = sts --model $(1) --pairs $(STS_NAME)
cmd_abx           = abx --model $(1) --speaker both --device $(DEVICE)
cmd_probe-phone   = probe phone --model $(1) --mdl --device $(DEVICE)
cmd_probe-word    = probe word --model $(1) --device $(DEVICE)
cmd_probe-speaker = probe speaker --model $(1) --device $(DEVICE)
cmd_similarity    = similarity --model $(1) --other-model $(INTER_WITH) --device $(DEVICE) \
  --measure cka --measure cka-debiased --measure procrustes --measure rsa --measure mknn
# --layer / --iter of a target's stem: T3, T3.iter1, all, all.iter0
layer_opt = $(if $(filter all,$(basename $(1))),,--layer $(basename $(1)))$(if \
  $(suffix $(1)), --iter $(subst .iter,,$(suffix $(1))))

.PHONY: all check data analyses report clean-stamps
.DELETE_ON_ERROR:

all: report

check:
	@test -n "$(LIBRISPEECH)" || { echo "set LIBRISPEECH=<LibriSpeech directory>"; exit 2; }
	@test -n "$(ALIGN)" || { echo "set ALIGN=<directory of MFA TextGrids>"; exit 2; }
	@$(if $(INTER_WITH),$(if $(filter $(INTER_WITH),$(MODELS)),true,\
	  { echo "INTER_WITH=$(INTER_WITH) is not one of MODELS"; exit 2; }),true)

data: $(STAMPS)/samples

analyses: $(ALL_DONE)

report: $(ALL_DONE)
	$(LWA) report --out $(REPORT)
	$(LWA) report --out $(REPORT)/pdf --format pdf --dpi 300

clean-stamps:
	rm -rf $(STAMPS)

# -- data, shared by every model: alignments, samples, embedding maps ------------------------
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
	$(if $(GLOVE),$(LWA) embeddings glove --path $(GLOVE))
	$(if $(AGWE),$(LWA) embeddings agwe --path $(AGWE))
	$(if $(SEMANTIC),$(LWA) embeddings semantic --path $(SEMANTIC))
	$(if $(SYNTACTIC),$(LWA) embeddings syntactic --path $(SYNTACTIC))
	$(if $(SEMANTIC)$(SYNTACTIC),$(LWA) sample allwords --split train-clean \
	  --instances $(ALLWORDS_INSTANCES))
	$(if $(STS),$(LWA) prepare-sts --from $(STS) --name $(STS_NAME))
	touch $@

# -- per model: its layers, one extraction per span and split, one target per layer -----------
# The stamp file of extraction $(2) of model $(1) runs `lwa extract ... $(3)`.
define EXTRACT
$(STAMPS)/$(1)/$(2): $(STAMPS)/samples
	@mkdir -p $$(@D)
	$(LWA) extract --model $(1) --checkpoint $(call ckpt,$(1)) --device $(DEVICE) $(3)
	touch $$@
endef

define MODEL_RULES
$(STAMPS)/$(1)/layers.mk:
	@mkdir -p $$(@D)
	@test -n "$(call ckpt,$(1))" || { echo "set CKPT_$(1)=<checkpoint of $(1)>"; exit 2; }
	$(LWA) models --check $(call ckpt,$(1)) --json | sed -n \
	  -e 's/^ *"n_layers": *\([0-9]*\).*/NLAYERS_$(1) ?= \1/p' \
	  -e 's/^ *"n_conv": *\([0-9]*\).*/NCONV_$(1) ?= \1/p' > $$@.tmp
	grep -q NLAYERS_ $$@.tmp && mv $$@.tmp $$@
$(call EXTRACT,$(1),x-frame,--split dev-clean --span frame)
$(call EXTRACT,$(1),x-frame-train,--split train-clean --span frame)
$(call EXTRACT,$(1),x-frame-local,--split dev-clean --span frame --rep local)
$(call EXTRACT,$(1),x-phone-dev,--split dev-clean --span phone)
$(call EXTRACT,$(1),x-phone-train,--split train-clean --span phone)
$(call EXTRACT,$(1),x-word-dev,--split dev-clean --span word)
$(call EXTRACT,$(1),x-word-train,--split train-clean --span word)
$(call EXTRACT,$(1),x-wordsim,--split train-clean --span wordsim)
$(call EXTRACT,$(1),x-allwords,--split train-clean --span allwords)
$(call EXTRACT,$(1),x-sts,--split sts --sample $(STS_NAME) --span utt --layer all)
endef

# Analysis $(2) of model $(1): one target per layer (and MI iteration).
define ANALYSIS_RULE
$(STAMPS)/$(1)/$(2)/%: $(addprefix $(STAMPS)/$(1)/,$(needs_$(2))) \
  $(if $(filter cca-inter similarity,$(2)),$(STAMPS)/$(INTER_WITH)/x-frame)
	@mkdir -p $$(@D)
	$(RUN) $(call cmd_$(2),$(1)) $$(call layer_opt,$$*)
	touch $$@
endef

$(foreach m,$(MODELS),$(eval $(call MODEL_RULES,$(m))))
$(foreach m,$(MODELS),$(foreach a,$(ANALYSES),$(eval $(call ANALYSIS_RULE,$(m),$(a)))))
