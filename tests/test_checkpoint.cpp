#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "kernels/error.h"
#include "tests/temp_dir_test.h"

namespace cugpt {
namespace {

namespace fs = std::filesystem;

// A child module with two tensors.
struct Child : Module {
  Child(const std::shared_ptr<Arena>& a, DType dtype) {
    register_parameter("weight", Tensor::zeros(a, {4, 3}, dtype, Category::parameter));
    register_parameter("bias", Tensor::zeros(a, {4}, dtype, Category::parameter));
  }
  Tensor weight() const { return own_parameters()[0].second; }
  Tensor bias() const { return own_parameters()[1].second; }
};

// Holds a tensor owned elsewhere, like GPT-2's lm_head holding wte.
struct TiedHead : Module {
  explicit TiedHead(const Tensor& shared) { register_parameter("weight", shared); }
};

// embedding, block.weight, block.bias, and head.weight tied to embedding.
struct Net : Module {
  Child block;
  TiedHead head;
  Net(const std::shared_ptr<Arena>& a, DType dtype = DType::f32)
      : block(a, dtype), head(make_embedding(a, dtype)) {
    register_module("block", block);
    register_module("head", head);
  }
  // Copies share storage: writing through them writes the module's tensor.
  Tensor embedding() const { return own_parameters()[0].second; }

 private:
  const Tensor& make_embedding(const std::shared_ptr<Arena>& a, DType dtype) {
    return register_parameter("embedding", Tensor::zeros(a, {5, 3}, dtype, Category::parameter));
  }
};

// Net under "transformer.", like a GPT-2 LM head model around the bare transformer.
struct Outer : Module {
  Net transformer;
  explicit Outer(const std::shared_ptr<Arena>& a) : transformer(a) {
    register_module("transformer", transformer);
  }
};

class CheckpointTest : public TempDirTest {
 protected:
  Tensor make(const Shape& shape, float start, DType dtype = DType::f32) {
    Tensor t = Tensor::empty(arena_, shape, dtype, Category::parameter);
    std::vector<float> v(static_cast<std::size_t>(t.numel()));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = start + 0.125f * static_cast<float>(i);
    t.copy_from_floats(v);
    return t;
  }
  // The tensors of a well-formed checkpoint for Net, under the given names.
  std::vector<std::pair<std::string, Tensor>> good(const std::string& prefix = "") {
    return {{prefix + "embedding", make({5, 3}, 1.0f)},
            {prefix + "block.weight", make({4, 3}, 2.0f)},
            {prefix + "block.bias", make({4}, 3.0f)}};
  }
  std::string load_error(Module& m, const std::string& file, const LoadOptions& o = {}) {
    try {
      load_checkpoint(m, file, o);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  static bool all_zero(const Tensor& t) {
    for (float v : t.to_floats())
      if (v != 0.0f) return false;
    return true;
  }

  std::shared_ptr<Arena> arena_ = Arena::create(Device::cpu(), 64 << 20);
};

TEST_F(CheckpointTest, RoundTripRestoresEveryTensor) {
  Net a(arena_);
  a.embedding().copy_from_floats(make({5, 3}, 1.5f).to_floats());
  a.block.weight().copy_from_floats(make({4, 3}, -2.0f).to_floats());
  a.block.bias().copy_from_floats(make({4}, 7.0f).to_floats());
  save_checkpoint(a, path("net.safetensors"), {{"step", "12"}});

  // Tied duplicates are written once, under the first name.
  const SafetensorsFile f = SafetensorsFile::open(path("net.safetensors"));
  std::vector<std::string> keys;
  for (const auto& e : f.entries()) keys.push_back(e.name);
  EXPECT_EQ(keys, (std::vector<std::string>{"embedding", "block.weight", "block.bias"}));
  EXPECT_EQ(f.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"step", "12"}}));

  Net b(arena_);
  const LoadReport r = load_checkpoint(b, path("net.safetensors"));
  EXPECT_EQ(r.loaded, 3);
  EXPECT_TRUE(r.missing.empty() && r.extra.empty() && r.ignored.empty());
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i)
    EXPECT_EQ(pa[i].tensor.to_floats(), pb[i].tensor.to_floats()) << pa[i].name;
  // The tie survives: the head sees the loaded embedding.
  EXPECT_EQ(b.head.own_parameters()[0].second.to_floats(), a.embedding().to_floats());
}

TEST_F(CheckpointTest, ShapeMismatchNamesTheTensorAndLeavesTheModelUntouched) {
  auto entries = good();
  entries[1].second = make({4, 2}, 0.0f);
  save_safetensors(path("x.safetensors"), entries);
  Net net(arena_);
  EXPECT_EQ(load_error(net, path("x.safetensors")),
            "checkpoint '" + path("x.safetensors") +
                "': tensor 'block.weight' has shape [4, 2], model expects [4, 3]");
  // "embedding" comes first in the file, and was not copied.
  EXPECT_TRUE(all_zero(net.embedding()));
}

TEST_F(CheckpointTest, DtypeMismatchIsAnErrorUnlessConverted) {
  auto entries = good();
  entries[2].second = make({4}, 3.0f, DType::bf16);
  save_safetensors(path("x.safetensors"), entries);
  Net net(arena_);
  const std::string msg = load_error(net, path("x.safetensors"));
  EXPECT_NE(msg.find("tensor 'block.bias' has dtype BF16, model expects F32"), std::string::npos)
      << msg;
  EXPECT_TRUE(all_zero(net.embedding()));
  LoadOptions o;
  o.convert_dtype = true;
  EXPECT_EQ(load_checkpoint(net, path("x.safetensors"), o).loaded, 3);
  EXPECT_EQ(net.block.bias().to_floats(), entries[2].second.to_floats());
}

TEST_F(CheckpointTest, ConvertsF32IntoABf16Model) {
  auto entries = good();
  entries[0].second.copy_from_floats({1.0f, 1.00390625f, 1.01171875f, -3.14159265f, 1e-3f, 65504.0f,
                                      0.1f, 0.2f, 0.3f, 1e20f, -0.0f, 7.0f, 8.0f, 9.0f, 10.0f});
  save_safetensors(path("x.safetensors"), entries);
  Net net(arena_, DType::bf16);
  EXPECT_NE(load_error(net, path("x.safetensors")).find("has dtype F32, model expects BF16"),
            std::string::npos);
  LoadOptions o;
  o.convert_dtype = true;
  EXPECT_EQ(load_checkpoint(net, path("x.safetensors"), o).loaded, 3);
  const std::vector<float> src = entries[0].second.to_floats();
  const std::uint16_t* got = net.embedding().data_as<std::uint16_t>();
  for (std::size_t i = 0; i < src.size(); ++i)
    EXPECT_EQ(got[i], float_to_bf16_bits(src[i])) << i;  // round to nearest even
}

TEST_F(CheckpointTest, WrongNameReportsMissingAndExtra) {
  auto entries = good();
  entries[1].first = "block.wieght";
  save_safetensors(path("x.safetensors"), entries);
  Net net(arena_);
  EXPECT_EQ(load_error(net, path("x.safetensors")),
            "checkpoint '" + path("x.safetensors") +
                "': 1 model tensor(s) missing from the file: block.weight; 1 file tensor(s) not "
                "in the model: block.wieght");
  EXPECT_TRUE(all_zero(net.embedding()));
}

TEST_F(CheckpointTest, MissingKeysFailUnlessAllowed) {
  auto entries = good();
  entries.pop_back();
  save_safetensors(path("x.safetensors"), entries);
  Net net(arena_);
  EXPECT_NE(load_error(net, path("x.safetensors")).find("missing from the file: block.bias"),
            std::string::npos);
  LoadOptions o;
  o.allow_missing = true;
  const LoadReport r = load_checkpoint(net, path("x.safetensors"), o);
  EXPECT_EQ(r.loaded, 2);
  EXPECT_EQ(r.missing, std::vector<std::string>{"block.bias"});
  EXPECT_EQ(net.embedding().to_floats(), entries[0].second.to_floats());
  EXPECT_TRUE(all_zero(net.block.bias()));
}

TEST_F(CheckpointTest, ExtraKeysFailUnlessAllowed) {
  auto entries = good();
  entries.emplace_back("rogue", make({2}, 0.0f));
  save_safetensors(path("x.safetensors"), entries);
  Net net(arena_);
  EXPECT_NE(load_error(net, path("x.safetensors")).find("not in the model: rogue"),
            std::string::npos);
  LoadOptions o;
  o.allow_extra = true;
  const LoadReport r = load_checkpoint(net, path("x.safetensors"), o);
  EXPECT_EQ(r.loaded, 3);
  EXPECT_EQ(r.extra, std::vector<std::string>{"rogue"});
}

TEST_F(CheckpointTest, ManyMissingNamesAreShortened) {
  save_safetensors(path("x.safetensors"), {{"a", make({1}, 0)},
                                           {"b", make({1}, 0)},
                                           {"c", make({1}, 0)},
                                           {"d", make({1}, 0)},
                                           {"e", make({1}, 0)},
                                           {"f", make({1}, 0)},
                                           {"g", make({1}, 0)}});
  Net net(arena_);
  LoadOptions o;
  o.allow_missing = true;
  EXPECT_NE(load_error(net, path("x.safetensors"), o)
                .find("7 file tensor(s) not in the model: a, b, c, d, e and 2 more"),
            std::string::npos);
}

TEST_F(CheckpointTest, OptionalPrefixesMapBareKeys) {
  save_safetensors(path("bare.safetensors"), good());
  Outer outer(arena_);
  EXPECT_NE(load_error(outer, path("bare.safetensors")).find("missing"), std::string::npos);
  LoadOptions o;
  o.optional_prefixes = {"transformer."};
  EXPECT_EQ(load_checkpoint(outer, path("bare.safetensors"), o).loaded, 3);
  EXPECT_EQ(outer.transformer.block.bias().to_floats(), good()[2].second.to_floats());
  // Full names still load with the option on.
  save_safetensors(path("full.safetensors"), good("transformer."));
  EXPECT_EQ(load_checkpoint(outer, path("full.safetensors"), o).loaded, 3);
  // Shape errors name both the file key and the model name.
  auto bad = good();
  bad[2].second = make({5}, 0.0f);
  save_safetensors(path("bad.safetensors"), bad);
  EXPECT_NE(load_error(outer, path("bad.safetensors"), o)
                .find("tensor 'block.bias' (model 'transformer.block.bias') has shape [5]"),
            std::string::npos);
}

TEST_F(CheckpointTest, TwoKeysForOneTensorAreAnError) {
  auto entries = good("transformer.");
  entries.emplace_back("block.bias", make({4}, 0.0f));
  save_safetensors(path("x.safetensors"), entries);
  Outer outer(arena_);
  LoadOptions o;
  o.optional_prefixes = {"transformer."};
  EXPECT_NE(load_error(outer, path("x.safetensors"), o)
                .find("keys 'transformer.block.bias' and 'block.bias' both map to model tensor "
                      "'transformer.block.bias'"),
            std::string::npos);
}

TEST_F(CheckpointTest, IgnoredSuffixesAreSkippedAndReported) {
  auto entries = good();
  entries.emplace_back("block.attn.bias", make({2, 2}, 0.0f));
  save_safetensors(path("x.safetensors"), entries);
  Net net(arena_);
  EXPECT_NE(load_error(net, path("x.safetensors")).find("block.attn.bias"), std::string::npos);
  LoadOptions o;
  o.ignored_suffixes = {".attn.bias", ".masked_bias"};
  const LoadReport r = load_checkpoint(net, path("x.safetensors"), o);
  EXPECT_EQ(r.loaded, 3);
  EXPECT_EQ(r.ignored, std::vector<std::string>{"block.attn.bias"});
  EXPECT_TRUE(r.extra.empty());
}

TEST_F(CheckpointTest, TiedAliasLoadsWhenThePrimaryIsAbsent) {
  auto entries = good();
  entries[0].first = "head.weight";  // saved under the alias only
  save_safetensors(path("x.safetensors"), entries);
  Net net(arena_);
  const LoadReport r = load_checkpoint(net, path("x.safetensors"));
  EXPECT_EQ(r.loaded, 3);
  EXPECT_TRUE(r.missing.empty());
  EXPECT_EQ(net.embedding().to_floats(), entries[0].second.to_floats());
}

TEST_F(CheckpointTest, TiedAliasIsSkippedWhenThePrimaryIsPresent) {
  auto entries = good();
  entries.emplace_back("head.weight", make({5, 3}, -9.0f));  // a stale copy: must not win
  save_safetensors(path("x.safetensors"), entries);
  Net net(arena_);
  const LoadReport r = load_checkpoint(net, path("x.safetensors"));
  EXPECT_EQ(r.loaded, 3);
  EXPECT_EQ(r.ignored, std::vector<std::string>{"head.weight"});
  EXPECT_EQ(net.embedding().to_floats(), entries[0].second.to_floats());
  // Even before the primary in file order.
  std::swap(entries[0], entries[3]);
  save_safetensors(path("y.safetensors"), entries);
  Net other(arena_);
  EXPECT_EQ(load_checkpoint(other, path("y.safetensors")).ignored,
            std::vector<std::string>{"head.weight"});
  EXPECT_EQ(other.embedding().to_floats(), entries[3].second.to_floats());
}

TEST_F(CheckpointTest, MetaModelIsValidatedWithoutData) {
  save_safetensors(path("x.safetensors"), good());
  auto meta = Arena::create(Device::meta(), 1 << 20);
  Net net(meta);
  EXPECT_EQ(load_checkpoint(net, path("x.safetensors")).loaded, 3);
  auto bad = good();
  bad[0].second = make({5, 4}, 0.0f);
  save_safetensors(path("bad.safetensors"), bad);
  EXPECT_NE(load_error(net, path("bad.safetensors"))
                .find("tensor 'embedding' has shape [5, 4], model expects [5, 3]"),
            std::string::npos);
  // A meta model has nothing to save.
  EXPECT_THROW(save_checkpoint(net, path("meta.safetensors")), Error);
  EXPECT_FALSE(fs::exists(path("meta.safetensors")));
}

TEST_F(CheckpointTest, CorruptFileErrorNamesTheFile) {
  std::ofstream(path("x.safetensors"), std::ios::binary) << "abc";
  Net net(arena_);
  EXPECT_NE(load_error(net, path("x.safetensors")).find(path("x.safetensors")), std::string::npos);
}

}  // namespace
}  // namespace cugpt
