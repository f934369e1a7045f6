// Sans-IO framing (h11's shape): bytes in with feed(), frames out with next(). No sockets here.
//
// A frame is a base-128 varint length, then that many bytes of protobuf. The length is read byte by
// byte: as soon as its value exceeds MAX_FRAME it is FRAME_TOO_LARGE; a fifth byte whose continuation
// bit is still set is BAD_FRAME. Either way the decoder stops (every later next() repeats the error)
// and never buffers the frame's body. encode_frame() is the other direction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace seatlab {

inline constexpr std::size_t MAX_FRAME = 65536;

enum class FrameStatus { frame, need_data, too_large, bad_frame };

class FrameDecoder {
 public:
  void feed(const char* data, std::size_t n);
  // A whole frame's payload into `payload` (status frame), or why not. Bounded: one frame per call.
  FrameStatus next(std::string& payload);
  // Bytes fed but not yet handed out as frames.
  std::size_t buffered() const { return buf_.size() - pos_; }
  bool failed() const { return failed_ != FrameStatus::need_data; }

 private:
  std::string buf_;
  std::size_t pos_ = 0;
  FrameStatus failed_ = FrameStatus::need_data;
};

void append_varint(std::string& out, std::uint64_t value);
// `message` serialized with its length prefix, appended to `out`.
template <class Message>
void encode_frame(std::string& out, const Message& message) {
  std::string body = message.SerializeAsString();
  append_varint(out, body.size());
  out += body;
}

}  // namespace seatlab
