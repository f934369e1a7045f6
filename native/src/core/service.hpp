// The one service every native server calls: a correctly framed request's payload in, its answer's
// frame out (seatlab/service.py's role). No sockets, no delay: the caller spends the delay its own
// way first. The answers a call returns are already durable as --sync promises.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "framing.hpp"
#include "options.hpp"
#include "store.hpp"

namespace seatlab {

class SeatService {
 public:
  explicit SeatService(SeatStore& store) : store_(store) {}
  // Append the answer to `payload` to `out`; never throws (a failing disk answers INTERNAL).
  void answer(const std::string& payload, std::string& out);

 private:
  SeatStore& store_;
};

enum class ErrorCode { unspecified = 0, bad_request = 1, bad_frame = 2, frame_too_large = 3, not_found = 4, internal = 5 };
void append_error(std::string& out, std::uint64_t id, ErrorCode code, const std::string& message);
// Error{INTERNAL} "shutting down: request not started" for a request read but not started at SIGTERM.
void append_not_started(const std::string& payload, std::string& out);
// The Error frame a framing failure gets (id 0), for FrameStatus too_large or bad_frame.
std::string framing_error(FrameStatus status);

// Open the db (if any) and build the store; on a db it cannot use, print the error and exit 1.
std::unique_ptr<SeatStore> open_store(const Options& options, const char* prog);

}  // namespace seatlab
