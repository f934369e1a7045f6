// What every native server does the same way around its concurrency model: the listening socket,
// the READY line, the accept back-off at the fd limit, the lingering close after a framing error,
// and the stop signals. Each server file is then only how its model moves bytes and waits.
#pragma once

#include <chrono>
#include <string>

#include "options.hpp"

namespace seatlab {

// Bound and listening (backlog --max-backlog), non-blocking, SO_REUSEADDR; exits 1 naming the address.
int listen_socket(const Options& options, const char* prog);
int bound_port(int fd);
// "READY <host> <port>" on stdout, flushed: exactly once, once connections are accepted.
void announce_ready(const Options& options, int port);

// EMFILE/ENFILE (and the kernel's ENOBUFS/ENOMEM): accept must back off instead of spinning.
bool fd_exhausted(int err);

// The accept back-off (Go net/http's Serve): 5 ms, doubling to 1 s; reset on a good accept.
class Backoff {
 public:
  std::chrono::milliseconds next();
  void reset() { delay_ = std::chrono::milliseconds(0); logged_ = false; }
  bool first() const { return !logged_; }
  void logged() { logged_ = true; }

 private:
  std::chrono::milliseconds delay_{0};
  bool logged_ = false;
};

// Lingering close on a connected socket (nginx's lingering_close): shut the write side, read and
// discard for at most `seconds` (or until EOF, or 16 MiB), then close. Blocks the calling thread.
void lingering_close(int fd, double seconds = 2.0);
inline constexpr double LINGER_S = 2.0;
inline constexpr std::size_t LINGER_BYTES = 16u << 20;

// Block SIGTERM/SIGINT in this thread (call first in main: threads inherit it) ...
void block_stop_signals();
// ... and wait for one of them (sigwait); returns the signal number.
int wait_stop_signal();

// Sleep a delay of `ms` milliseconds in this thread (0: none).
void sleep_ms(double ms);

}  // namespace seatlab
