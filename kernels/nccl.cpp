#include "kernels/nccl.h"

#include <nccl.h>

#include <cstring>
#include <string>

#include "kernels/error.h"

namespace cugpt {

namespace {
void check(ncclResult_t rc, const char* what) {
  if (rc == ncclSuccess) return;
  throw Error(std::string("NCCL: ") + what + ": " + ncclGetErrorString(rc));
}
static_assert(sizeof(ncclUniqueId) == sizeof(NcclUniqueId), "NCCL_UNIQUE_ID_BYTES changed");
}  // namespace

NcclUniqueId nccl_unique_id() {
  ncclUniqueId id;
  check(ncclGetUniqueId(&id), "unique id");
  NcclUniqueId out;
  std::memcpy(out.data(), &id, sizeof(id));
  return out;
}

ncclComm* nccl_comm_init(int size, const NcclUniqueId& id, int rank) {
  ncclUniqueId nid;
  std::memcpy(&nid, id.data(), sizeof(nid));
  ncclComm_t comm = nullptr;
  check(ncclCommInitRank(&comm, size, nid, rank), "init");
  return comm;
}

void nccl_comm_destroy(ncclComm* comm) noexcept {
  if (comm) ncclCommDestroy(comm);
}

void nccl_comm_abort(ncclComm* comm) noexcept {
  if (comm) ncclCommAbort(comm);
}

void nccl_group_start() {
  check(ncclGroupStart(), "group");
}

void nccl_group_end() {
  check(ncclGroupEnd(), "group");
}

void nccl_send_bytes(const void* data, std::size_t bytes, int peer, ncclComm* comm, Stream stream) {
  check(ncclSend(data, bytes, ncclUint8, peer, comm, stream), "send");
}

void nccl_recv_bytes(void* data, std::size_t bytes, int peer, ncclComm* comm, Stream stream) {
  check(ncclRecv(data, bytes, ncclUint8, peer, comm, stream), "receive");
}

}  // namespace cugpt
