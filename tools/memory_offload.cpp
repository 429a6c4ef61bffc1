#include "tools/memory_offload.h"

#include <cstdio>

#include "models/factory.h"
#include "nn/bytes.h"
#include "tools/options.h"

namespace cugpt::tools {

void add_offload_options(CLI::App* sub, OffloadCli& o) {
  sub->add_option("--offload", o.mode,
                  "Train with optimizer offload: none, optimizer or optimizer+gradients (the "
                  "card's and the host's arenas, and the bus)")
      ->capture_default_str();
  sub->add_option("--host-ram", o.host_ram,
                  "With --offload: the host's memory for it (default: available now less 20%)")
      ->check(opt::size());
  o.pcie_option = sub->add_option("--pcie", o.pcie,
                                  "With --offload: the bus's bandwidth each way (default: a "
                                  "laptop's PCIe 4.0 x8)")
                      ->check(opt::bandwidth())
                      ->capture_default_str();
}

void apply_offload(const OffloadCli& o, bool min_world, MemoryQuery& q) {
  q.offload = parse_offload(o.mode);
  const bool pcie_given = o.pcie_option && o.pcie_option->count() > 0;
  if (q.offload == OffloadMode::none) {
    if (!o.host_ram.empty() || pcie_given)
      throw Error("--host-ram and --pcie describe the host of --offload: give --offload MODE");
    return;
  }
  if (q.mode != MemoryMode::train) throw Error("--offload is for --mode train");
  if (q.world > 1 || min_world)
    throw Error("--offload runs on one rank (not yet with --world or --min-world)");
  const std::uint64_t available = opt::available_memory();
  q.host_ram = !o.host_ram.empty() ? opt::parse_size("--host-ram", o.host_ram)
               : available > 0     ? available / 10 * 8
                                   : default_budget(Device::cpu());
  q.bus_bytes_per_s = opt::parse_bandwidth("--pcie", o.pcie);
}

nlohmann::json categories_json(const CategoryBytes& end, const CategoryBytes& peak) {
  nlohmann::json j = nlohmann::json::object();
  for (int i = 0; i < kNumCategories; ++i)
    j[category_name(category_at(i))] = {{"current", end[i]}, {"peak", peak[i]}};
  return j;
}

void add_offload_json(nlohmann::json& j, const MemoryQuery& q, const MemoryResult* r) {
  if (q.offload == OffloadMode::none) return;
  nlohmann::json o = {{"mode", offload_name(q.offload)},
                      {"host_ram_bytes", q.host_ram},
                      {"bus_bytes_per_s", q.bus_bytes_per_s}};
  if (r)
    o.update(nlohmann::json{
        {"card_fits", r->card_fits},
        {"host_fits", r->host_fits},
        {"host_peak_bytes", r->host_peak},
        {"host_categories", categories_json(r->host_at_end, r->host_at_peak)},
        {"bus_to_host_bytes", r->bus_d2h},
        {"bus_to_card_bytes", r->bus_h2d},
        {"bus_ms", 1e3 * static_cast<double>(r->bus_d2h + r->bus_h2d) / q.bus_bytes_per_s}});
  j["offload"] = o;
}

void print_offload(const OffloadCli& o, const MemoryQuery& q, const MemoryResult& r) {
  if (q.offload == OffloadMode::none) return;
  std::printf(
      "\nhost arena (--offload %s: optimizer states, master weights, the host's copies of "
      "parameters and gradients; pinned on cuda)\n",
      offload_name(q.offload));
  std::printf("%-16s %14s %14s\n", "category", "at peak", "end of step");
  std::uint64_t end_total = 0;
  for (int i = 0; i < kNumCategories; ++i) {
    if (r.host_at_peak[i] == 0 && r.host_at_end[i] == 0) continue;
    std::printf("%-16s %14s %14s\n", category_name(category_at(i)),
                format_bytes(r.host_at_peak[i]).c_str(), format_bytes(r.host_at_end[i]).c_str());
    end_total += r.host_at_end[i];
  }
  std::printf("%-16s %14s %14s\n", "total", format_bytes(r.host_peak).c_str(),
              format_bytes(end_total).c_str());
  std::printf("host %s (%s)\n", format_bytes(q.host_ram).c_str(),
              o.host_ram.empty() ? "this machine's available memory less 20%; set --host-ram"
                                 : "as given by --host-ram");
  if (r.host_fits)
    std::printf("host: FITS with %s headroom\n", format_bytes(q.host_ram - r.host_peak).c_str());
  else
    std::printf("host: DOES NOT FIT: %s short\n",
                format_bytes(r.host_peak > q.host_ram ? r.host_peak - q.host_ram : 0).c_str());
  const double bw = q.bus_bytes_per_s;
  const bool given = o.pcie_option && o.pcie_option->count() > 0;
  std::printf(
      "bus per step: %s to the host (gradients), %s to the card (parameters): %.1f + %.1f ms "
      "at %.3g GB/s each way (%s), hidden where the copies overlap the backward and the update\n",
      format_bytes(r.bus_d2h).c_str(), format_bytes(r.bus_h2d).c_str(),
      1e3 * static_cast<double>(r.bus_d2h) / bw, 1e3 * static_cast<double>(r.bus_h2d) / bw,
      bw / 1e9, given ? "--pcie" : "the default --pcie, a laptop's PCIe 4.0 x8");
  std::printf("verdict: the card %s, the host %s\n", r.card_fits ? "fits" : "DOES NOT FIT",
              r.host_fits ? "fits" : "DOES NOT FIT");
}

void print_offload_verdicts(nlohmann::json* json) {
  const char* models[] = {"gpt2-124m", "gpt2-355m", "gpt2-774m", "gpt2-1558m"};
  const OffloadMode modes[] = {OffloadMode::none, OffloadMode::optimizer,
                               OffloadMode::optimizer_gradients};
  nlohmann::json out = {{"card_bytes", 4ull << 30},
                        {"reserve_bytes", kDefaultReserve},
                        {"dtype", "bf16"},
                        {"optimizer", "adamw"},
                        {"recompute", 3},
                        {"batch", 1},
                        {"seq", 1024},
                        {"largest", nlohmann::json::object()}};
  if (!json)
    std::printf(
        "largest GPT-2 whose training step fits a 4 GiB card (%s reserve; bf16, AdamW, "
        "recompute 3, B=1, T=1024; meta-device runs):\n",
        format_bytes(kDefaultReserve).c_str());
  for (const OffloadMode mode : modes) {
    std::string largest = "none", host;
    std::uint64_t host_bytes = 0;
    for (const char* name : models) {
      MemoryQuery q;
      q.dtype = DType::bf16;
      q.recompute = 3;
      q.seq = 1024;
      q.reserve = kDefaultReserve;
      q.offload = mode;
      std::fprintf(stderr, "report: %s, offload %s...\n", name, offload_name(mode));
      const MemoryResult r = simulate_memory(load_config(name), q);
      if (!r.card_fits) break;
      largest = name;
      host_bytes = r.host_peak;
    }
    out["largest"][offload_name(mode)] = {{"model", largest}, {"host_bytes", host_bytes}};
    if (!json)
      std::printf("  offload %-20s %s%s\n", offload_name(mode), largest.c_str(),
                  mode == OffloadMode::none
                      ? ""
                      : ("  (host memory " + format_bytes(host_bytes) + ")").c_str());
  }
  if (json) *json = out;
}

}  // namespace cugpt::tools
