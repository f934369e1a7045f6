// native_tpool: the original's thread pool. A boost::asio::thread_pool of --threads threads; the
// main thread accepts (blocking poll) and posts each connection to the pool, where one pool thread
// serves it for its whole life with blocking reads, a blocking sleep of --delay per request, and
// blocking writes. So at most --threads connections are served at once; the rest wait their turn
// (Little's law with L = threads). SIGTERM: stop accepting, shut the read side of every live
// connection (its blocked read returns), let the request in progress finish and answer, join.
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <poll.h>
#include <set>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include "framing.hpp"
#include "net.hpp"
#include "service.hpp"

using namespace seatlab;

namespace {

std::atomic<bool> stopping{false};
std::mutex live_mutex;
std::set<int> live;  // connections a pool thread is serving

bool send_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void forget(int fd) {
  std::lock_guard lock(live_mutex);
  live.erase(fd);
}

// One connection, start to end, in this pool thread: blocking, one request after another.
void serve(int fd, SeatService& service, double delay_ms, double work_ms) {
  {
    std::lock_guard lock(live_mutex);
    if (stopping) {  // accepted but never started before the stop: just close it
      ::close(fd);
      return;
    }
    live.insert(fd);
  }
  FrameDecoder decoder;
  std::string payload, out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF (or the stop's SHUT_RD): the requests read so far were answered
    decoder.feed(buf, static_cast<std::size_t>(n));
    for (;;) {
      FrameStatus status = decoder.next(payload);
      if (status == FrameStatus::need_data) break;
      if (status != FrameStatus::frame) {
        send_all(fd, framing_error(status));
        forget(fd);
        lingering_close(fd, LINGER_S);
        return;
      }
      if (stopping) {  // read but not started: the stop starts no new request, but answers it
        out.clear();
        append_not_started(payload, out);
        if (!send_all(fd, out)) goto done;
        continue;
      }
      spin_cpu(work_ms);    // the CPU work, in the pool thread
      sleep_ms(delay_ms);   // the simulated work: a blocking sleep in the pool thread
      out.clear();
      service.answer(payload, out);
      if (!send_all(fd, out)) goto done;
    }
    if (stopping) break;
  }
done:
  forget(fd);
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv, "tpool");
  block_stop_signals();
  auto store = open_store(options, argv[0]);
  SeatService service(*store);
  int listener = listen_socket(options, argv[0]);
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

  boost::asio::thread_pool pool(static_cast<std::size_t>(options.threads));
  std::thread signals([&] {
    wait_stop_signal();
    stopping = true;
    std::uint64_t one = 1;
    if (::write(wake, &one, sizeof one) < 0) std::perror("eventfd");
  });

  announce_ready(options, bound_port(listener));
  Backoff backoff;
  while (!stopping) {
    pollfd fds[2] = {{listener, POLLIN, 0}, {wake, POLLIN, 0}};
    int timeout = -1;
    int rc = poll(fds, 2, timeout);
    if (rc < 0) continue;
    if (stopping || fds[1].revents) break;
    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);  // blocking socket: the pool thread blocks on it
    if (fd < 0) {
      if (fd_exhausted(errno)) {  // back off instead of spinning at the fd limit
        if (backoff.first()) {
          std::fprintf(stderr, "warning: accept: %s; backing off\n", std::strerror(errno));
          backoff.logged();
        }
        pollfd w{wake, POLLIN, 0};
        poll(&w, 1, static_cast<int>(backoff.next().count()));
      }
      continue;
    }
    backoff.reset();
    boost::asio::post(pool, [fd, &service, &options] { serve(fd, service, options.delay_ms, options.work_ms); });
  }
  ::close(listener);
  {
    std::lock_guard lock(live_mutex);
    for (int fd : live) ::shutdown(fd, SHUT_RD);  // a blocked read returns; a request in progress finishes
  }
  pool.join();
  signals.join();
  store->close();
  return 0;
}
