// native_coro: the original's Boost.Asio C++20 coroutines. One io_context run by --threads threads
// (the event loops, sharing the listener and the seats); the accept loop and every connection are
// coroutines (co_spawn, awaitable). A connection's coroutine runs on its own strand: it reads,
// decodes, spends --delay per request as an awaited steady_timer (its thread serves others
// meanwhile), answers, writes. Every connected client is in service at once (Little's law, L = C).
// Fair turns: at delay 0 a connection yields to the loop after FAIR_TURN requests.
// SIGTERM: close the acceptor, cancel every connection's pending read; a request in progress
// finishes and is answered; run() returns when the last coroutine ends.
#include <utility>  // before asio: boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <cstdio>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "framing.hpp"
#include "net.hpp"
#include "service.hpp"

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace seatlab;

namespace {

constexpr int FAIR_TURN = 64;

std::atomic<bool> stopping{false};
std::mutex live_mutex;
std::list<std::shared_ptr<tcp::socket>> live;

awaitable<void> linger(std::shared_ptr<tcp::socket> socket) {
  boost::system::error_code ignored;
  socket->shutdown(tcp::socket::shutdown_send, ignored);
  asio::steady_timer deadline(socket->get_executor(), std::chrono::duration_cast<asio::steady_timer::duration>(
                                                          std::chrono::duration<double>(LINGER_S)));
  deadline.async_wait([socket](boost::system::error_code ec) {
    boost::system::error_code ignore;
    if (!ec) socket->cancel(ignore);
  });
  std::vector<char> sink(65536);
  std::size_t discarded = 0;
  while (discarded < LINGER_BYTES) {
    boost::system::error_code ec;
    std::size_t n = co_await socket->async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    discarded += n;
  }
  deadline.cancel();
}

awaitable<void> session(std::shared_ptr<tcp::socket> socket, SeatService& service, double delay_ms,
                        double work_ms) {
  std::list<std::shared_ptr<tcp::socket>>::iterator self;
  {
    std::lock_guard lock(live_mutex);
    if (stopping) co_return;
    self = live.insert(live.end(), socket);
  }
  asio::steady_timer timer(socket->get_executor());
  auto delay = std::chrono::duration_cast<asio::steady_timer::duration>(std::chrono::duration<double, std::milli>(delay_ms));
  FrameDecoder decoder;
  std::vector<char> buf(65536);
  std::string payload, out;
  bool framing_failed = false;
  for (;;) {
    boost::system::error_code ec;
    std::size_t n = co_await socket->async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec) break;  // EOF, a reset, or the stop's cancel
    decoder.feed(buf.data(), n);
    out.clear();
    int turn = 0;
    for (;;) {
      FrameStatus status = decoder.next(payload);
      if (status == FrameStatus::need_data) break;
      if (status != FrameStatus::frame) {
        out += framing_error(status);
        framing_failed = true;
        break;
      }
      if (stopping) {  // read but not started: the stop starts no new request, but answers it
        append_not_started(payload, out);
        continue;
      }
      spin_cpu(work_ms);  // the CPU work, on the io_context thread that runs this coroutine
      if (delay_ms > 0) {
        timer.expires_after(delay);
        co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));  // the simulated work: an awaited sleep
        service.answer(payload, out);
        co_await asio::async_write(*socket, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
        out.clear();
        if (ec) goto done;
      } else {
        service.answer(payload, out);
        if (++turn == FAIR_TURN) {  // bounded work per turn: write, then let the others run
          co_await asio::async_write(*socket, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
          out.clear();
          if (ec) goto done;
          co_await asio::post(socket->get_executor(), use_awaitable);
          turn = 0;
        }
      }
    }
    if (!out.empty()) {
      co_await asio::async_write(*socket, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
      if (ec) break;
    }
    if (framing_failed || stopping) break;
  }
done:
  {
    std::lock_guard lock(live_mutex);
    live.erase(self);
  }
  if (framing_failed) co_await linger(socket);
  boost::system::error_code ignored;
  socket->close(ignored);
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, asio::io_context& context, SeatService& service,
                            double delay_ms, double work_ms) {
  Backoff backoff;
  asio::steady_timer pause(acceptor.get_executor());
  while (!stopping) {
    auto socket = std::make_shared<tcp::socket>(asio::make_strand(context));
    boost::system::error_code ec;
    co_await acceptor.async_accept(*socket, asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted || stopping) break;
    if (ec) {
      if (fd_exhausted(ec.value())) {  // back off instead of spinning at the fd limit
        if (backoff.first()) {
          std::fprintf(stderr, "warning: accept: %s; backing off\n", ec.message().c_str());
          backoff.logged();
        }
        pause.expires_after(backoff.next());
        co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      }
      continue;
    }
    backoff.reset();
    asio::co_spawn(socket->get_executor(), session(socket, service, delay_ms, work_ms), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv, "coro");
  std::signal(SIGPIPE, SIG_IGN);
  auto store = open_store(options, argv[0]);
  SeatService service(*store);
  int fd = listen_socket(options, argv[0]);
  asio::io_context context(options.threads);
  tcp::acceptor acceptor(context);
  {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    acceptor.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd);
  }
  asio::signal_set signals(context, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    stopping = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    std::lock_guard lock(live_mutex);
    for (auto& socket : live) {  // on the socket's strand: its pending read ends, a request in progress goes on
      asio::post(socket->get_executor(), [socket] {
        boost::system::error_code ignore;
        socket->shutdown(tcp::socket::shutdown_receive, ignore);  // Linux: the pending read sees EOF
      });
    }
  });
  asio::co_spawn(context, accept_loop(acceptor, context, service, options.delay_ms, options.work_ms), asio::detached);
  announce_ready(options, bound_port(fd));
  std::vector<std::thread> loops;
  for (int i = 1; i < options.threads; ++i) loops.emplace_back([&] { context.run(); });
  context.run();
  for (auto& t : loops) t.join();
  store->close();
  return 0;
}
