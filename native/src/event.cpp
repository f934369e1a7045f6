// native_event: the original's libevent server (bufferevent callbacks); the model is in
// event_loops.hpp, shared with native_calibrate. Here it serves the real seats.
#include "event_loops.hpp"
#include "service.hpp"

using namespace seatlab;

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv, "event");
  auto store = open_store(options, argv[0]);
  SeatService service(*store);
  int listener = listen_socket(options, argv[0]);
  EventLoops loops(options, [&service](const std::string& payload, std::string& out) { service.answer(payload, out); });
  loops.run(listener);
  store->close();
  return 0;
}
