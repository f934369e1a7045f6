#include "service.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "seat.pb.h"

namespace seatlab {

void append_error(std::string& out, std::uint64_t id, ErrorCode code, const std::string& message) {
  seatlab::v1::Response response;
  response.set_id(id);
  response.mutable_error()->set_code(static_cast<seatlab::v1::Error::Code>(code));
  response.mutable_error()->set_message(message);
  encode_frame(out, response);
}

std::string framing_error(FrameStatus status) {
  std::string out;
  if (status == FrameStatus::too_large) {
    append_error(out, 0, ErrorCode::frame_too_large,
                 "frame length exceeds " + std::to_string(MAX_FRAME) + " bytes");
  } else {
    append_error(out, 0, ErrorCode::bad_frame, "malformed frame length: a varint of more than 4 bytes");
  }
  return out;
}

void append_not_started(const std::string& payload, std::string& out) {
  seatlab::v1::Request request;
  std::uint64_t id = request.ParseFromString(payload) ? request.id() : 0;
  append_error(out, id, ErrorCode::internal, "internal error: shutting down: request not started");
}

void SeatService::answer(const std::string& payload, std::string& out) {
  seatlab::v1::Request request;
  if (!request.ParseFromString(payload)) {
    append_error(out, 0, ErrorCode::bad_request, "not a Request message");
    return;
  }
  std::uint64_t id = request.id();
  seatlab::v1::Response response;
  response.set_id(id);
  try {
    switch (request.op_case()) {
      case seatlab::v1::Request::kBook:
      case seatlab::v1::Request::kCancel: {
        bool book = request.op_case() == seatlab::v1::Request::kBook;
        const std::string& text = book ? request.book().uuid() : request.cancel().uuid();
        std::string uuid;
        if (!canonical_uuid(text, uuid)) {
          append_error(out, id, ErrorCode::bad_request,
                       std::string(book ? "book" : "cancel") + ": uuid '" + text.substr(0, 60) +
                           "' is not canonical 8-4-4-4-12 hexadecimal");
          return;
        }
        if (book) {
          std::uint32_t number = store_.book(uuid);
          if (number) {
            response.mutable_seat()->set_number(number);
            response.mutable_seat()->set_uuid(uuid);
          } else {
            response.mutable_sold_out()->set_capacity(store_.capacity());
          }
        } else {
          std::uint32_t number = store_.cancel(uuid);
          if (!number) {
            append_error(out, id, ErrorCode::not_found, "cancel: uuid " + uuid + " holds no seat");
            return;
          }
          response.mutable_released()->set_number(number);
        }
        if (store_.needs_commit()) store_.commit();
        break;
      }
      case seatlab::v1::Request::kStats:
        response.mutable_stats()->set_capacity(store_.capacity());
        response.mutable_stats()->set_booked(store_.booked());
        break;
      default:
        append_error(out, id, ErrorCode::bad_request, "Request has no op set (book, cancel or stats)");
        return;
    }
  } catch (const std::exception& exc) {  // a failing disk: the change was undone, the server goes on
    std::fprintf(stderr, "error: request %llu failed: %s\n", static_cast<unsigned long long>(id), exc.what());
    append_error(out, id, ErrorCode::internal, std::string("internal error: ") + exc.what());
    return;
  }
  encode_frame(out, response);
}

std::unique_ptr<SeatStore> open_store(const Options& options, const char* prog) {
  // a file size limit (RLIMIT_FSIZE) must fail the write with EFBIG, a short write the journal cuts
  // back like a full disk's, not kill the server with SIGXFSZ
  std::signal(SIGXFSZ, SIG_IGN);
  std::map<std::uint32_t, std::string> seats;
  std::unique_ptr<Journal> journal;
  if (!options.db_path.empty()) {
    try {
      journal.reset(Journal::open(options.db_path, options.capacity, options.sync, seats));
    } catch (const std::exception& exc) {
      std::fprintf(stderr, "%s: error: %s\n", prog, exc.what());
      std::exit(1);
    }
  }
  return std::make_unique<SeatStore>(options.capacity, std::move(journal), seats);
}

}  // namespace seatlab
