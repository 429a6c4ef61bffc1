// The kernel-case table: every row of tests/test_op_cases_forward.h, _decode.h, _backward.h and
// _pitched.h runs through the tensor-level API on every device present, one test per row and
// device: cpu in f32 and f64, cuda in f32, bf16 and f16 (skipped, with the reason, where no GPU can
// be used), against its reference: the row's plain-loop oracle, or else the same row on the cpu in
// f64 on the same dtype-rounded inputs. The arena's free memory is poisoned (NaN) before each run,
// so an output element an op never writes fails; buffers an op writes into are poisoned too, and
// what it must leave alone is expected NaN (a guard). On meta each row must allocate exactly what
// it does on cpu: the same arena timeline and statistics. A new kernel gets its tests by adding a
// row.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kernels/runtime.h"
#include "nn/arena.h"
#include "tests/test_op_cases.h"
#include "tests/test_op_cases_backward.h"
#include "tests/test_op_cases_decode.h"
#include "tests/test_op_cases_forward.h"
#include "tests/test_op_cases_pitched.h"

namespace cugpt::testing {
namespace {

// Every case fits with room to spare: the largest, a 768 x 768 f64 weight (4.5 MiB) beside the
// 4 MiB cuBLASLt workspace a product reserves. Small, because every free byte is poisoned.
constexpr std::uint64_t kBudget = 12ull << 20;

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> c;
    add_forward_cases(c);
    add_decode_cases(c);
    add_backward_cases(c);
    add_pitched_cases(c);
    return c;
  }();
  return cases;
}

enum class Where { cpu, cuda, meta };

// One test per row and device, over the device's dtypes (one process each under ctest: a test
// per dtype would double the suite's start-up time for nothing).
struct Instance {
  std::size_t index;  // into op_cases()
  Where where;
};

std::vector<Instance> instances() {
  std::vector<Instance> all;
  for (std::size_t i = 0; i < op_cases().size(); ++i) {
    all.push_back({i, Where::cpu});
    if (op_cases()[i].cpu_only) continue;
    all.push_back({i, Where::cuda});
    all.push_back({i, Where::meta});
  }
  return all;
}

std::string instance_name(const ::testing::TestParamInfo<Instance>& info) {
  const char* where[] = {"cpu", "cuda", "meta"};
  return op_cases()[info.param.index].name + "_" + where[static_cast<int>(info.param.where)];
}

class OpCases : public ::testing::TestWithParam<Instance> {};

// The op on meta against the op on cpu: the same requests in the same order, so the same
// statistics (meta predicts the cpu's and the cuda's memory byte for byte).
void expect_meta_allocates_as_cpu(const OpCase& c) {
  auto meta = Arena::create(Device::meta(), kBudget), cpu = Arena::create(Device::cpu(), kBudget);
  meta->record_timeline(true);
  cpu->record_timeline(true);
  OpRun on_meta(meta, DType::f32, DType::f32, false), on_cpu(cpu, DType::f32, DType::f32, false);
  c.run(on_meta);
  c.run(on_cpu);
  const std::vector<TimelineEvent> m = meta->timeline(), p = cpu->timeline();
  ASSERT_EQ(m.size(), p.size()) << "allocations and frees";
  for (std::size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(m[i].kind, p[i].kind) << "event " << i;
    EXPECT_EQ(m[i].category, p[i].category) << "event " << i;
    EXPECT_EQ(m[i].bytes, p[i].bytes) << "event " << i;
  }
  const ArenaStats a = meta->stats(), b = cpu->stats();
  EXPECT_EQ(a.in_use, b.in_use);
  EXPECT_EQ(a.peak, b.peak);
  EXPECT_EQ(a.current, b.current);
  EXPECT_EQ(a.peak_by_category, b.peak_by_category);
  EXPECT_EQ(a.live_blocks, b.live_blocks);
  EXPECT_EQ(a.free_blocks, b.free_blocks);
  EXPECT_EQ(a.largest_free, b.largest_free);
  EXPECT_EQ(a.allocations, b.allocations);
  EXPECT_GT(a.allocations, 0u);
}

// The row in one dtype on cpu or cuda against its reference.
void expect_matches_reference(const OpCase& c, bool cuda, DType dtype) {
  SCOPED_TRACE(dtype_name(dtype));
  OpRun run(Arena::create(cuda ? Device::cuda(0) : Device::cpu(), kBudget), dtype, dtype, true);
  c.run(run);
  Expected want;
  if (c.oracle) {
    want = c.oracle(run);
  } else {
    OpRun ref(Arena::create(Device::cpu(), kBudget), DType::f64, dtype, true);
    c.run(ref);
    want = ref.expected();
  }
  ASSERT_FALSE(run.outputs().empty());
  EXPECT_EQ(run.outputs().size(), want.size()) << "outputs against the reference's";
  for (const OpRun::Output& o : run.outputs()) {
    const auto it = want.find(o.name);
    ASSERT_NE(it, want.end()) << "the reference has no " << o.name;
    EXPECT_TRUE(matches(o.got, it->second, o.tol(dtype, cuda), o.floor, o.exact_zeros)) << o.name;
  }
}

TEST_P(OpCases, MatchesReference) {
  const Instance& in = GetParam();
  const OpCase& c = op_cases()[in.index];
  if (in.where == Where::meta) return expect_meta_allocates_as_cpu(c);
  if (in.where == Where::cuda) {
    std::string reason;
    if (cuda_device_count(&reason) == 0) GTEST_SKIP() << reason;
    for (DType t : {DType::f32, DType::bf16, DType::f16}) expect_matches_reference(c, true, t);
    return;
  }
  for (DType t : {DType::f32, DType::f64}) expect_matches_reference(c, false, t);
}

INSTANTIATE_TEST_SUITE_P(Table, OpCases, ::testing::ValuesIn(instances()), instance_name);

// The table itself: names unique (gtest would refuse them otherwise, but say which), and every
// op of nn/ops.h and nn/ops_backward.h has a row.
TEST(OpCaseTable, EveryOpHasARowAndNamesAreUnique) {
  std::set<std::string> names;
  for (const OpCase& c : op_cases()) EXPECT_TRUE(names.insert(c.name).second) << c.name;
  for (const char* op : {"linear_",
                         "linear_act_",
                         "layernorm_",
                         "layernorm_train_",
                         "add_layernorm_",
                         "activation_",
                         "add_",
                         "embedding_",
                         "attention_",
                         "attention_decode_",
                         "attention_decode_writing_",
                         "ln_linear_",
                         "ln_linear_act_",
                         "ln_linear_parts_",
                         "linear_add_",
                         "last_position_",
                         "rows_",
                         "write_rows_",
                         "write_cache_",
                         "linear_backward_",
                         "layernorm_backward_",
                         "activation_backward_",
                         "attention_backward_",
                         "embedding_backward_",
                         "cross_entropy_backward_",
                         "cross_entropy_loss_",
                         "linear_pitched_",
                         "linear_backward_pitched_",
                         "cross_entropy_backward_pitched_",
                         "cross_entropy_loss_pitched_"}) {
    bool found = false;
    for (const std::string& n : names) found = found || n.rfind(op, 0) == 0;
    EXPECT_TRUE(found) << "no row for " << op;
  }
}

}  // namespace
}  // namespace cugpt::testing
