#include "options.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <netdb.h>
#include <string_view>

namespace seatlab {
namespace {

[[noreturn]] void fail(const char* prog, const std::string& what) {
  std::fprintf(stderr, "usage: %s [--backend MODEL] [--address A] [--port P] [--max-backlog N] "
                       "[--db-path FILE] [--capacity N] [--delay MS] [--threads N] [--sync os|fsync] [--work MS]\n"
                       "%s: error: %s\n", prog, prog, what.c_str());
  std::exit(2);
}

double parse_ms(const char* prog, const std::string& flag, const std::string& value) {
  char* end = nullptr;
  double ms = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0') fail(prog, "argument " + flag + ": '" + value + "' is not a number of milliseconds");
  if (!std::isfinite(ms) || ms < 0) fail(prog, "argument " + flag + ": '" + value + "' must be a finite number of milliseconds >= 0");
  return ms;
}

long long parse_int(const char* prog, const std::string& flag, const std::string& text, long long low,
                    long long high) {
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) {
    fail(prog, "argument " + flag + ": '" + text + "' is not an integer");
  }
  if (value < low || value > high) {
    fail(prog, "argument " + flag + ": " + text + " is out of range: must be between " +
                   std::to_string(low) + " and " + std::to_string(high));
  }
  return value;
}

}  // namespace

Options parse_options(int argc, char** argv, const std::string& model) {
  const char* prog = argc > 0 ? argv[0] : "native";
  if (const char* slash = std::strrchr(prog, '/')) prog = slash + 1;
  Options o;
  o.backend = model;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::printf("usage: %s [--backend %s] [--address A] [--port P] [--max-backlog N] [--db-path FILE]\n"
                  "       [--capacity N] [--delay MS] [--threads N] [--sync os|fsync] [--work MS]\n"
                  "Serve the seatlab wire protocol, C++ %s model (flags as python -m seatlab.server).\n",
                  prog, model.c_str(), model.c_str());
      std::exit(0);
    }
    std::string flag = arg, value;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else {
      if (arg.rfind("--", 0) != 0) fail(prog, "unrecognized argument: " + arg);
      if (i + 1 >= argc) fail(prog, "argument " + flag + ": expected one argument");
      value = argv[++i];
    }
    if (flag == "--backend") {
      if (value != model) fail(prog, "argument --backend: this server is the " + model + " model, not '" + value + "'");
      o.backend = value;
    } else if (flag == "--address") {
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      if (value.empty() || getaddrinfo(value.c_str(), nullptr, &hints, &res) != 0) {
        fail(prog, "argument --address: '" + value + "' is not an IP address or a host name that resolves");
      }
      freeaddrinfo(res);
      o.address = value;
    } else if (flag == "--port") {
      o.port = static_cast<int>(parse_int(prog, flag, value, 0, 65535));
    } else if (flag == "--max-backlog") {
      o.max_backlog = static_cast<int>(parse_int(prog, flag, value, 1, 1 << 30));
    } else if (flag == "--db-path") {
      o.db_path = value;  // empty (an unfilled {db_path}): memory only
    } else if (flag == "--capacity") {
      o.capacity = static_cast<std::uint32_t>(parse_int(prog, flag, value, 1, 4294967295LL));
    } else if (flag == "--delay") {
      o.delay_ms = parse_ms(prog, flag, value);
    } else if (flag == "--work") {
      o.work_ms = parse_ms(prog, flag, value);
    } else if (flag == "--work-kind") {
      if (value != "python" && value != "released") fail(prog, "argument --work-kind: invalid choice: '" + value + "' (choose from 'python', 'released')");
    } else if (flag == "--offload") {
      if (value != "none") fail(prog, "argument --offload: the C++ servers do their work where they serve: only 'none'");
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(parse_int(prog, flag, value, 1, 4096));
    } else if (flag == "--sync") {
      if (value == "os") o.sync = Sync::os;
      else if (value == "fsync") o.sync = Sync::fsync;
      else fail(prog, "argument --sync: invalid choice: '" + value + "' (choose from 'os', 'fsync')");
    } else {
      fail(prog, "unrecognized argument: " + flag);
    }
  }
  return o;
}

void spin_cpu(double ms) {
  if (ms <= 0) return;
  timespec start{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  const long long target = static_cast<long long>(ms * 1e6);
  volatile unsigned x = 1;
  for (;;) {
    for (int i = 0; i < 256; ++i) x = x * 1103515245u + 12345u;
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    if ((now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec) >= target) return;
  }
}

}  // namespace seatlab
