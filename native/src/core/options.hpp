// The server's command line: the spec's flags (the original App's), the same names and defaults as
// `python -m seatlab.server --help`. A bad flag or value exits 2 with a message naming it.
#pragma once

#include <cstdint>
#include <string>

namespace seatlab {

enum class Sync { os, fsync };

struct Options {
  std::string backend;  // accepted for the same command line; must be this server's model
  std::string address = "127.0.0.1";
  int port = 8080;
  int max_backlog = 128;
  std::string db_path;  // empty: memory only
  std::uint32_t capacity = 5000;
  double delay_ms = 0.0;
  int threads = 2;
  Sync sync = Sync::os;
  double work_ms = 0.0;  // CPU per request before its delay: a busy loop on the thread's CPU clock
};

// `ms` of this thread's CPU time, spent computing (the C++ side of seatlab's --work: no GIL, so
// threads run it in parallel; --work-kind is accepted and makes no difference here).
void spin_cpu(double ms);

// Parse argv; on --help print usage and exit 0, on a bad flag print "PROG: error: ..." and exit 2.
// `model` is this server's concurrency model (tpool, coro, event, calibrate): the one --backend value.
Options parse_options(int argc, char** argv, const std::string& model);

}  // namespace seatlab
