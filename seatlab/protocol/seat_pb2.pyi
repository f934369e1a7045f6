from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Request(_message.Message):
    __slots__ = ("id", "book", "cancel", "stats")
    ID_FIELD_NUMBER: _ClassVar[int]
    BOOK_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    id: int
    book: Book
    cancel: Cancel
    stats: Stats
    def __init__(self, id: _Optional[int] = ..., book: _Optional[_Union[Book, _Mapping]] = ..., cancel: _Optional[_Union[Cancel, _Mapping]] = ..., stats: _Optional[_Union[Stats, _Mapping]] = ...) -> None: ...

class Book(_message.Message):
    __slots__ = ("uuid",)
    UUID_FIELD_NUMBER: _ClassVar[int]
    uuid: str
    def __init__(self, uuid: _Optional[str] = ...) -> None: ...

class Cancel(_message.Message):
    __slots__ = ("uuid",)
    UUID_FIELD_NUMBER: _ClassVar[int]
    uuid: str
    def __init__(self, uuid: _Optional[str] = ...) -> None: ...

class Stats(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Response(_message.Message):
    __slots__ = ("id", "seat", "sold_out", "released", "stats", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_FIELD_NUMBER: _ClassVar[int]
    SOLD_OUT_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: int
    seat: Seat
    sold_out: SoldOut
    released: Released
    stats: StatsReply
    error: Error
    def __init__(self, id: _Optional[int] = ..., seat: _Optional[_Union[Seat, _Mapping]] = ..., sold_out: _Optional[_Union[SoldOut, _Mapping]] = ..., released: _Optional[_Union[Released, _Mapping]] = ..., stats: _Optional[_Union[StatsReply, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class Seat(_message.Message):
    __slots__ = ("number", "uuid")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    number: int
    uuid: str
    def __init__(self, number: _Optional[int] = ..., uuid: _Optional[str] = ...) -> None: ...

class SoldOut(_message.Message):
    __slots__ = ("capacity",)
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    capacity: int
    def __init__(self, capacity: _Optional[int] = ...) -> None: ...

class Released(_message.Message):
    __slots__ = ("number",)
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    number: int
    def __init__(self, number: _Optional[int] = ...) -> None: ...

class StatsReply(_message.Message):
    __slots__ = ("capacity", "booked")
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    BOOKED_FIELD_NUMBER: _ClassVar[int]
    capacity: int
    booked: int
    def __init__(self, capacity: _Optional[int] = ..., booked: _Optional[int] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message")
    class Code(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNSPECIFIED: _ClassVar[Error.Code]
        BAD_REQUEST: _ClassVar[Error.Code]
        BAD_FRAME: _ClassVar[Error.Code]
        FRAME_TOO_LARGE: _ClassVar[Error.Code]
        NOT_FOUND: _ClassVar[Error.Code]
        INTERNAL: _ClassVar[Error.Code]
    UNSPECIFIED: Error.Code
    BAD_REQUEST: Error.Code
    BAD_FRAME: Error.Code
    FRAME_TOO_LARGE: Error.Code
    NOT_FOUND: Error.Code
    INTERNAL: Error.Code
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: Error.Code
    message: str
    def __init__(self, code: _Optional[_Union[Error.Code, str]] = ..., message: _Optional[str] = ...) -> None: ...
