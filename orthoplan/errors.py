"""Exceptions raised by orthoplan.

Every error the library raises on purpose is an :class:`OrthoplanError`. Messages are
written for the person who has to act on them (a surgeon, a PACS administrator, a
researcher) and never contain patient identifiers. The command line maps each class
to its own exit code (see :data:`EXIT_CODES`); a command whose plan could not reach its
archive and waits in the outbox exits with :data:`EXIT_QUEUED`.
"""

from __future__ import annotations


class OrthoplanError(Exception):
    """Base class of every error orthoplan raises on purpose."""


class UnsupportedImageError(OrthoplanError):
    """The input is a readable object that orthoplan cannot plan on.

    Examples: a multi-frame or colour image, a DICOM object without pixels (an SR,
    a presentation state), a zero-size or absurdly large image.
    """


class CorruptImageError(OrthoplanError):
    """The input cannot be read: not DICOM/PNG/TIFF, truncated, or undecodable pixels."""


class InputNotFoundError(OrthoplanError, FileNotFoundError):
    """An input file (image, landmark file, batch table...) does not exist. Also a :class:`FileNotFoundError`."""


class UsageError(OrthoplanError, ValueError):
    """A request that cannot be honoured as asked: a missing choice (which side?), an option
    that needs another one, an unsupported output format. Also a :class:`ValueError`.

    The command line exits with 2, as for the argument errors argparse finds itself.

    >>> exit_code_for(UsageError("say which side to template: --side left or --side right"))
    2
    """


class CalibrationError(OrthoplanError):
    """No trustworthy scale: missing or degenerate spacing, no ball found, bad input."""


class LandmarkError(OrthoplanError):
    """A landmark file or value is malformed (unknown name, non-finite coordinate...)."""


class MeasurementError(OrthoplanError):
    """A measurement was asked for that cannot be computed from what was given."""


class PlanError(OrthoplanError):
    """A plan document is malformed or of an unsupported schema version."""


class CatalogError(OrthoplanError):
    """An implant catalog is malformed, or an implant is not in any catalog."""


class TemplatingError(OrthoplanError):
    """An implant cannot be placed or sized with the information given."""


class DicomOutputError(OrthoplanError):
    """A DICOM object (SR, presentation state) could not be built or read back."""


class ArchiveError(OrthoplanError):
    """An archive is unreachable, refuses a request, or answers with something unusable."""


class SideError(PlanError, ValueError):
    """A patient side that is neither ``"left"`` nor ``"right"``. Also a :class:`ValueError`."""


#: Exit codes of the ``orthoplan`` command, most specific class first.
EXIT_CODES: tuple[tuple[type[OrthoplanError], int], ...] = (
    (UsageError, 2),
    (InputNotFoundError, 66),
    (CorruptImageError, 3),
    (UnsupportedImageError, 4),
    (CalibrationError, 5),
    (LandmarkError, 6),
    (MeasurementError, 6),
    (PlanError, 7),
    (CatalogError, 8),
    (TemplatingError, 9),
    (DicomOutputError, 10),
    (ArchiveError, 11),
    (OrthoplanError, 1),
)


#: Exit code of a command that wrote its plan but could not store it in the archive
#: (unreachable, or it refused the objects): the DICOM objects wait in the outbox, and
#: ``orthoplan archive flush`` stores them later. Not an error class: nothing was lost.
EXIT_QUEUED = 12


def exit_code_for(error: BaseException) -> int:
    """Return the command-line exit code for ``error`` (1 for any other orthoplan error).

    66 (sysexits' ``EX_NOINPUT``) is a missing input file, apart from 3, a file that exists but
    cannot be read as an image.

    Examples
    --------
    >>> exit_code_for(CalibrationError("no spacing"))
    5
    """
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return 1
