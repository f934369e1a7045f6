// The libevent servers' concurrency model (native_event, and native_calibrate with a fixed answer):
// --threads event loops (event_base), each in its own thread with its own evconnlistener on the one
// shared listening socket. A connection is a bufferevent; its read callback feeds the sans-IO
// decoder and serves requests one at a time, in order: with --delay, a request arms the
// connection's timer and the loop serves others until it fires (the libevent way to wait); at
// delay 0 up to FAIR_TURN requests are answered per turn, then an active event resumes the rest
// after the loop's other callbacks (fair turns). Past READ_PAUSE bytes buffered, reading pauses.
// A framing error writes its Error, then a lingering close. At the fd limit the listener is
// disabled and a timer re-enables it (back-off). SIGTERM: every loop frees its listener, closes
// its idle connections, lets a request in progress finish and flush, then exits.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "framing.hpp"
#include "net.hpp"
#include "service.hpp"

namespace seatlab {

// Answer one correctly framed request: append its frame to `out`.
using Answer = std::function<void(const std::string& payload, std::string& out)>;

class EventLoops {
 public:
  EventLoops(const Options& options, Answer answer) : options_(options), answer_(std::move(answer)) {}
  // Serve on `listener` until SIGTERM/SIGINT; prints READY once every loop listens.
  void run(int listener);

 private:
  struct Loop;
  struct Conn {
    Loop* loop;
    bufferevent* bev;
    event* timer = nullptr;   // the delay of the request in progress
    event* resume = nullptr;  // the rest of a fair turn
    FrameDecoder decoder;
    std::string payload;
    bool busy = false;     // a request's delay is running
    bool eof = false;      // the client half-closed: answer what was read, then close
    bool closing = false;  // close once the output is flushed
  };
  struct Loop {
    EventLoops* owner;
    event_base* base = nullptr;
    evconnlistener* listener = nullptr;
    event* backoff_timer = nullptr;
    event* sweep = nullptr;  // after the stop: exit once no connection is left
    Backoff backoff;
    std::set<Conn*> conns;
    std::thread thread;
  };

  static constexpr int FAIR_TURN = 64;
  static constexpr std::size_t READ_PAUSE = 1u << 20;

  static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg);
  static void on_accept_error(evconnlistener* listener, void* arg);
  static void on_backoff(evutil_socket_t, short, void* arg);
  static void on_read(bufferevent* bev, void* arg);
  static void on_write(bufferevent* bev, void* arg);
  static void on_event(bufferevent* bev, short what, void* arg);
  static void on_timer(evutil_socket_t, short, void* arg);
  static void on_resume(evutil_socket_t, short, void* arg);
  static void on_signal(evutil_socket_t, short, void* arg);
  static void on_stop(evutil_socket_t, short, void* arg);
  static void on_sweep(evutil_socket_t, short, void* arg);

  void serve(Conn* c);           // answer what the decoder holds, one request at a time
  void finish(Conn* c);          // close now if idle and nothing is left to do
  void close_when_flushed(Conn* c);
  void destroy(Conn* c);
  void linger(Conn* c);          // after a framing error
  void stop_loop(Loop* loop);

  const Options& options_;
  Answer answer_;
  timeval delay_{};
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<bool> stopping_{false};
};

inline void EventLoops::run(int listener) {
  evthread_use_pthreads();
  std::signal(SIGPIPE, SIG_IGN);
  long long us = static_cast<long long>(options_.delay_ms * 1000.0 + 0.5);
  delay_.tv_sec = static_cast<time_t>(us / 1000000);
  delay_.tv_usec = static_cast<suseconds_t>(us % 1000000);
  for (int i = 0; i < options_.threads; ++i) {
    auto loop = std::make_unique<Loop>();
    loop->owner = this;
    loop->base = event_base_new();
    int fd = i == 0 ? listener : dup(listener);
    loop->listener = evconnlistener_new(loop->base, on_accept, loop.get(), LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
    evconnlistener_set_error_cb(loop->listener, on_accept_error);
    loop->backoff_timer = evtimer_new(loop->base, on_backoff, loop.get());
    loops_.push_back(std::move(loop));
  }
  event* sigterm = evsignal_new(loops_[0]->base, SIGTERM, on_signal, this);
  event* sigint = evsignal_new(loops_[0]->base, SIGINT, on_signal, this);
  event_add(sigterm, nullptr);
  event_add(sigint, nullptr);
  announce_ready(options_, bound_port(listener));
  for (std::size_t i = 1; i < loops_.size(); ++i) {
    Loop* loop = loops_[i].get();
    loop->thread = std::thread([loop] { event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY); });
  }
  event_base_loop(loops_[0]->base, EVLOOP_NO_EXIT_ON_EMPTY);
  for (std::size_t i = 1; i < loops_.size(); ++i) loops_[i]->thread.join();
  event_free(sigterm);
  event_free(sigint);
  for (auto& loop : loops_) {
    event_free(loop->backoff_timer);
    if (loop->sweep) event_free(loop->sweep);
    event_base_free(loop->base);
  }
}

inline void EventLoops::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* loop = static_cast<Loop*>(arg);
  EventLoops* self = loop->owner;
  loop->backoff.reset();
  if (self->stopping_) {
    ::close(fd);
    return;
  }
  auto* c = new Conn{};
  c->loop = loop;
  c->bev = bufferevent_socket_new(loop->base, fd, BEV_OPT_CLOSE_ON_FREE);
  c->timer = evtimer_new(loop->base, on_timer, c);
  c->resume = event_new(loop->base, -1, 0, on_resume, c);
  bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
  loop->conns.insert(c);
}

inline void EventLoops::on_accept_error(evconnlistener* listener, void* arg) {
  auto* loop = static_cast<Loop*>(arg);
  int err = EVUTIL_SOCKET_ERROR();
  if (!fd_exhausted(err)) return;
  if (loop->backoff.first()) {  // one line per episode, then back off instead of spinning
    std::fprintf(stderr, "warning: accept: %s; backing off\n", std::strerror(err));
    loop->backoff.logged();
  }
  evconnlistener_disable(listener);
  auto ms = loop->backoff.next().count();
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  evtimer_add(loop->backoff_timer, &tv);
}

inline void EventLoops::on_backoff(evutil_socket_t, short, void* arg) {
  auto* loop = static_cast<Loop*>(arg);
  if (loop->listener && !loop->owner->stopping_) evconnlistener_enable(loop->listener);
}

inline void EventLoops::on_read(bufferevent* bev, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  if (c->closing) {  // lingering: what still comes is discarded
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
    return;
  }
  evbuffer* in = bufferevent_get_input(bev);
  while (std::size_t n = evbuffer_get_length(in)) {
    std::size_t take = n < 65536 ? n : 65536;
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(take)));
    c->decoder.feed(data, take);
    evbuffer_drain(in, take);
  }
  c->loop->owner->serve(c);
}

inline void EventLoops::serve(Conn* c) {
  if (c->busy || c->closing) return;
  std::string out;
  int turn = 0;
  for (;;) {
    FrameStatus status = c->decoder.next(c->payload);
    if (status == FrameStatus::need_data) break;
    if (status != FrameStatus::frame) {
      out += framing_error(status);
      bufferevent_write(c->bev, out.data(), out.size());
      linger(c);
      return;
    }
    if (stopping_) {  // read but not started: the stop starts no new request, but answers it
      append_not_started(c->payload, out);
      continue;
    }
    spin_cpu(options_.work_ms);  // the CPU work, on the loop: the loop's other clients wait meanwhile
    if (options_.delay_ms > 0) {
      c->busy = true;
      evtimer_add(c->timer, &delay_);  // the simulated work: a timer in the event loop
      break;
    }
    answer_(c->payload, out);
    if (++turn == FAIR_TURN) {  // bounded work per turn: the rest after the loop's other callbacks
      event_active(c->resume, 0, 0);
      break;
    }
  }
  if (!out.empty()) bufferevent_write(c->bev, out.data(), out.size());
  // flow control: stop reading while a pipelining client's backlog is large
  if (c->decoder.buffered() > READ_PAUSE) bufferevent_disable(c->bev, EV_READ);
  else if (!c->eof) bufferevent_enable(c->bev, EV_READ);
  finish(c);
}

inline void EventLoops::finish(Conn* c) {
  if (c->busy || c->closing || event_pending(c->resume, EV_TIMEOUT, nullptr)) return;
  if (c->eof || stopping_) close_when_flushed(c);  // every whole frame read was answered
}

inline void EventLoops::on_timer(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  EventLoops* self = c->loop->owner;
  std::string out;
  self->answer_(c->payload, out);
  bufferevent_write(c->bev, out.data(), out.size());
  c->busy = false;
  self->serve(c);
}

inline void EventLoops::on_resume(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  c->loop->owner->serve(c);
}

inline void EventLoops::on_write(bufferevent*, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  if (c->closing && !event_pending(c->timer, EV_TIMEOUT, nullptr)) c->loop->owner->destroy(c);
}

inline void EventLoops::on_event(bufferevent*, short what, void* arg) {
  auto* c = static_cast<Conn*>(arg);
  EventLoops* self = c->loop->owner;
  if (c->closing) {  // the lingering read ended (EOF or error)
    self->destroy(c);
    return;
  }
  if (what & BEV_EVENT_EOF) {
    c->eof = true;
    bufferevent_disable(c->bev, EV_READ);
    self->finish(c);
  } else if (what & BEV_EVENT_ERROR) {
    if (c->busy) {  // the answer has nowhere to go; drop it once the delay ends
      c->eof = true;
      c->closing = true;
      return;
    }
    self->destroy(c);
  }
}

inline void EventLoops::close_when_flushed(Conn* c) {
  c->closing = true;
  bufferevent_disable(c->bev, EV_READ);
  if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) destroy(c);
  // else on_write destroys it once the output is flushed
}

inline void EventLoops::linger(Conn* c) {
  c->closing = true;
  bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
  // once the Error is flushed: shut the write side, discard what comes for LINGER_S, then close
  bufferevent_setcb(
      c->bev, on_read,
      [](bufferevent* bev, void* arg) {
        auto* conn = static_cast<Conn*>(arg);
        ::shutdown(bufferevent_getfd(bev), SHUT_WR);
        timeval tv{static_cast<time_t>(LINGER_S), 0};
        bufferevent_set_timeouts(bev, &tv, nullptr);
        bufferevent_setcb(bev, on_read, nullptr, on_event, conn);
        bufferevent_enable(bev, EV_READ);
      },
      on_event, c);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
  if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
    ::shutdown(bufferevent_getfd(c->bev), SHUT_WR);
  }
}

inline void EventLoops::destroy(Conn* c) {
  c->loop->conns.erase(c);
  event_free(c->timer);
  event_free(c->resume);
  bufferevent_free(c->bev);
  delete c;
}

inline void EventLoops::on_signal(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<EventLoops*>(arg);
  if (self->stopping_.exchange(true)) return;
  for (auto& loop : self->loops_) event_base_once(loop->base, -1, EV_TIMEOUT, on_stop, loop.get(), nullptr);
}

inline void EventLoops::on_stop(evutil_socket_t, short, void* arg) {
  auto* loop = static_cast<Loop*>(arg);
  loop->owner->stop_loop(loop);
}

inline void EventLoops::stop_loop(Loop* loop) {
  evconnlistener_free(loop->listener);
  loop->listener = nullptr;
  evtimer_del(loop->backoff_timer);
  std::vector<Conn*> conns(loop->conns.begin(), loop->conns.end());
  for (Conn* c : conns) {
    if (!c->busy && !c->closing) close_when_flushed(c);  // idle: close; busy: its timer answers, then closes
  }
  loop->sweep = event_new(loop->base, -1, EV_PERSIST, on_sweep, loop);
  timeval tv{0, 10000};
  event_add(loop->sweep, &tv);
}

inline void EventLoops::on_sweep(evutil_socket_t, short, void* arg) {
  auto* loop = static_cast<Loop*>(arg);
  static thread_local int ticks = 0;
  // everything answered and flushed (or 8 s gone: the spec's 10 s bound holds anyway)
  if (loop->conns.empty() || ++ticks > 800) {
    std::vector<Conn*> conns(loop->conns.begin(), loop->conns.end());
    for (Conn* c : conns) loop->owner->destroy(c);
    event_del(loop->sweep);
    event_base_loopexit(loop->base, nullptr);
  }
}

}  // namespace seatlab
