// The CSV db file, with seatlab/journal.py's durability rules.
//
// The file starts with the header "number,uuid"; a booking appends "N,uuid", a cancellation "N,".
// open() replays it: a last line without its newline (a torn write) is dropped with a warning and
// cut from the file; any other malformed line, or a seat number above --capacity, is a DbFileError
// naming the file and line. Each change is one write(2) on an O_APPEND descriptor made while the
// store holds its lock, so the bytes are in the OS before the answer is sent (--sync os). A short
// write is continued; if the rest fails (a full disk) the file is cut back to its last whole line
// and DbWriteError is thrown, so the store undoes the change. With --sync fsync, commit() returns
// once everything written so far is fsynced; callers arriving during an fsync share the next one.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "options.hpp"

namespace seatlab {

struct DbFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct DbWriteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Journal {
 public:
  // Open or create `path`; the seats it holds go into `seats` ({number: uuid}).
  static Journal* open(const std::string& path, std::uint32_t capacity, Sync sync,
                       std::map<std::uint32_t, std::string>& seats);
  ~Journal();
  void record_book(std::uint32_t number, const std::string& uuid);  // caller holds the store's lock
  void record_cancel(std::uint32_t number);                           // caller holds the store's lock
  void commit();  // --sync fsync: every change written so far is durable on return
  void close();
  Sync sync() const { return sync_; }

 private:
  Journal(std::string path, int fd, Sync sync);
  void append(const std::string& line);
  void cut_back();

  std::string path_;
  int fd_;
  Sync sync_;
  long long size_;     // the end of the last whole line
  bool torn_ = false;  // bytes past size_ that a failed cut left behind
  std::uint64_t written_ = 0, durable_ = 0;
  bool syncing_ = false;
  std::mutex mutex_;
  std::condition_variable cond_;
};

// Canonical 8-4-4-4-12 hex uuid, lower-cased into `out`; false if `text` is not one.
bool canonical_uuid(const std::string& text, std::string& out);

}  // namespace seatlab
