// RoBERTa masked LM, as Hugging Face's RobertaForMaskedLM names it: roberta.embeddings.{
// word_embeddings, position_embeddings, token_type_embeddings, LayerNorm}, roberta.encoder.
// layer.N.{attention.{self.{query,key,value}, output.{dense, LayerNorm}}, intermediate.dense,
// output.{dense, LayerNorm}}, then lm_head.{bias, dense, layer_norm} with the decoder weight
// tied to word_embeddings and its bias to lm_head.bias. Post-LN, bidirectional attention with
// a padding mask, positions counted from pad_token_id + 1 over non-padding tokens.
#pragma once

#include "models/model.h"
#include "nn/attention.h"
#include "nn/container.h"
#include "nn/embedding.h"
#include "nn/layernorm.h"

namespace cugpt {

class RobertaLayer : public Module {
 public:
  RobertaLayer(const ModelConfig& c, const std::shared_ptr<Arena>& arena, DType dtype);
  std::string type_name() const override { return "RobertaLayer"; }
  Tensor forward(const Tensor& x, const std::vector<std::int32_t>* key_mask) const;

 private:
  kernels::Activation act_;
  Group attention_{"RobertaAttention"}, attention_output_{"RobertaSelfOutput"};
  Group intermediate_{"RobertaIntermediate"}, output_{"RobertaOutput"};
  MultiHeadAttention self_;
  Linear attn_dense_;
  LayerNorm attn_ln_;
  Linear inter_dense_, out_dense_;
  LayerNorm out_ln_;
};

class Roberta : public Model {
 public:
  Roberta(const ModelConfig& c, const std::shared_ptr<Arena>& arena, DType dtype);
  std::string type_name() const override { return "RobertaForMaskedLM"; }
  Tensor forward(const Batch& batch) const override;
  std::vector<ParamSection> sections() const override;

  // padding_idx + 1 + running count of non-pad tokens; pad tokens get padding_idx.
  static std::vector<std::int32_t> position_ids(const std::vector<std::int32_t>& tokens,
                                                std::int64_t B, std::int64_t T, std::int32_t pad);

 private:
  Group roberta_{"RobertaModel"}, embeddings_{"RobertaEmbeddings"}, encoder_{"RobertaEncoder"};
  Embedding word_, position_, token_type_;
  LayerNorm emb_ln_;
  ModuleList<RobertaLayer> layers_;
  Group lm_head_{"RobertaLMHead"}, decoder_{"Linear"};
  Linear head_dense_;
  LayerNorm head_ln_;
  Tensor head_bias_;
};

}  // namespace cugpt
