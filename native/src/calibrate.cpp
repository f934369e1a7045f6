// native_calibrate: this machine's real ceiling. The libevent loops of native_event, but every
// correctly framed request is answered with one fixed, precomputed Seat frame (id 1, seat 1,
// seatlab's calibrate uuid) without parsing it: no store, no db, no delay (--delay is accepted and
// ignored, as seatlab's calibrate does). Match answers by order, not id.
#include "event_loops.hpp"
#include "seat.pb.h"

using namespace seatlab;

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv, "calibrate");
  options.delay_ms = 0;
  seatlab::v1::Response fixed;
  fixed.set_id(1);
  fixed.mutable_seat()->set_number(1);
  fixed.mutable_seat()->set_uuid("00000000-0000-4000-8000-000000000001");
  std::string frame;
  encode_frame(frame, fixed);
  int listener = listen_socket(options, argv[0]);
  EventLoops loops(options, [&frame](const std::string&, std::string& out) { out += frame; });
  loops.run(listener);
  return 0;
}
