#include "framing.hpp"

namespace seatlab {

void FrameDecoder::feed(const char* data, std::size_t n) {
  if (failed()) return;  // after a framing error nothing more is decoded
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 65536 && pos_ * 2 > buf_.size()) {  // compact once the consumed part dominates
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, n);
}

FrameStatus FrameDecoder::next(std::string& payload) {
  if (failed()) return failed_;
  std::uint64_t length = 0;
  std::size_t i = pos_;
  for (int shift = 0;; shift += 7) {
    if (i >= buf_.size()) return FrameStatus::need_data;
    auto byte = static_cast<unsigned char>(buf_[i++]);
    length |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (length > MAX_FRAME) return failed_ = FrameStatus::too_large;
    if (!(byte & 0x80)) break;
    if (shift == 28) return failed_ = FrameStatus::bad_frame;  // the fifth byte still continues
  }
  if (buf_.size() - i < length) return FrameStatus::need_data;
  payload.assign(buf_, i, length);
  pos_ = i + length;
  return FrameStatus::frame;
}

void append_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

}  // namespace seatlab
