"""An input file that cannot be read, as an exit-3 error naming it and what to try: a path
that is there but is no file (`NotAFile`), one this user may not read, one gone since the
run listed its inputs, or a read that failed."""

from __future__ import annotations

import errno

from cdr_pipeline.errors import InputError


class NotAFile(OSError):
    """An input path that is there but is no file to read (a named pipe, a device, a link
    that leads nowhere, a folder that cannot be listed): `strerror` says what it is, `hint`
    what to try. Told apart from a read that failed, whose hint is a disk error's."""

    def __init__(
        self, code: int | None, what: str, filename: str | None = None, *, hint: str = ""
    ) -> None:
        # its file name tells `environment_error` an input's error from the warehouse's
        super().__init__(*(code, what) if filename is None else (code, what, filename))
        self.hint = hint  # OSError's pickle gives the arguments above: this is in its state


def cannot_read(exc: OSError, name: str) -> InputError:
    """An input file this process cannot open or read, as an exit-3 error naming it and
    what to try: at night the log is all its operator sees."""
    if isinstance(exc, PermissionError):
        hint = (
            f"this user may not read it: check its owner and mode (ls -l {name}) and give "
            "the user cdr runs as read access, then load it again (a nightly leaves it in "
            "the inbox: the next night loads it)"
        )
    elif isinstance(exc, NotAFile) and exc.hint:
        hint = exc.hint
    elif exc.errno == errno.ENOENT:  # it was there when the run listed its inputs
        hint = (
            "the file was moved or deleted while the run read it (a tidy-up or a sync of "
            "the folder?): rerun when it is in place"
        )
    else:
        hint = (
            "check the file can be read (ls -l; a disk error: the system log), then load it again"
        )
    return InputError(f"cannot read file: {exc.strerror or exc}", path=name, hint=hint)
