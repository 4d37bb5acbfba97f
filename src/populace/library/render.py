"""Level codes of many personas -> card text and JSON lines, rendering each distinct combination once.

Personas repeat: a posterior draw's personas are drawn from a few thousand weighted records,
so a batch holds far fewer distinct attribute combinations than rows. A combination is keyed
by its mixed-radix code (one int64), the template renders the batch's new keys in one call
(:meth:`CardTemplate.render_many`), and results are cached up to ``max_cached`` keys (then the
cache starts over, so memory stays bounded). JSON lines are then assembled by pyarrow, with
no Python loop over rows.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # C-accelerated; UTF-8 kept as is
from typing import Any

import numpy as np

from populace.study.provenance import provenance
from populace.library.templates import CardTemplate
from populace.study.spec import Study

__all__ = ["CardRenderer", "MAX_CACHED"]

#: Distinct combinations kept rendered (each a few hundred bytes).
MAX_CACHED = 200_000


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class CardRenderer:
    """Text and JSON card fragments of persona rows, one render per distinct combination.

    Parameters
    ----------
    study
        Attribute order and levels; ``codes`` columns follow ``study.names``.
    template
        The compiled card template.
    max_cached
        Distinct combinations kept between calls.
    """

    def __init__(self, study: Study, template: CardTemplate, *, max_cached: int = MAX_CACHED) -> None:
        self.study = study
        self.template = template
        self.max_cached = max_cached
        self._levels = [a.levels for a in study.attributes]
        # '"age":"18-29"' per attribute and level, so a combination's JSON is a join.
        self._pieces = [[f"{_json(a.name)}:{_json(lv)}" for lv in a.levels] for a in study.attributes]
        sizes = [a.n_levels for a in study.attributes]
        # Mixed-radix keys need the joint size to fit in int64; else rows are compared whole.
        self._radix = float(np.prod(np.array(sizes, dtype=np.float64))) < 2.0**62
        self._strides = np.cumprod([1, *sizes[::-1]])[:-1][::-1].astype(np.int64)
        self._cache: dict[Any, tuple[str, str]] = {}
        prov = {name: p.to_dict() for name, p in provenance(study).items()}  # short form: it is on every line
        self._tail = ',"provenance":' + _json(prov) + "}\n"

    def distinct(self, codes: np.ndarray) -> tuple[list[tuple[str, str]], np.ndarray]:
        """Rendered entries of the distinct rows of ``codes`` and each row's index into them.

        Parameters
        ----------
        codes
            ``(rows, attributes)`` level codes in study order.

        Returns
        -------
        entries, inverse
            ``entries[j] = (text, json_fragment)`` of the ``j``-th distinct row, the fragment
            being ``"attributes":{...},"text":"..."``; ``inverse[r]`` is row ``r``'s ``j``.
        """
        if self._radix:
            uniq, first, inverse = np.unique(codes.astype(np.int64) @ self._strides, return_index=True, return_inverse=True)
            keys: list[Any] = uniq.tolist()
        else:
            rows, first, inverse = np.unique(codes, axis=0, return_index=True, return_inverse=True)
            keys = [tuple(r) for r in rows.tolist()]
        cache = self._cache
        pairs = list(zip(keys, first.tolist(), strict=True))
        missing = [(k, i) for k, i in pairs if k not in cache]
        if len(cache) + len(missing) > self.max_cached:
            cache.clear()  # start over (bounded memory); this batch's keys are all rendered anew
            missing = pairs
        if missing:
            rows_codes = codes[[i for _, i in missing]].tolist()
            levels, pieces = self._levels, self._pieces
            labels = [[lv[c] for lv, c in zip(levels, r, strict=True)] for r in rows_codes]
            texts = self.template.render_many(labels)
            for (k, _), r, text in zip(missing, rows_codes, texts, strict=True):
                attrs = ",".join([p[c] for p, c in zip(pieces, r, strict=True)])
                cache[k] = (text, '"attributes":{' + attrs + '},"text":' + encode_basestring(text))
        return [cache[k] for k in keys], inverse.reshape(-1)

    def texts(self, codes: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Distinct texts and each row's index into them (see :meth:`distinct`)."""
        entries, inverse = self.distinct(codes)
        return [e[0] for e in entries], inverse

    def lines(self, codes: np.ndarray, draw: np.ndarray, persona_id: np.ndarray) -> memoryview:
        """JSON Lines of the rows (``persona_id``, ``draw``, ``attributes``, ``text``,
        ``provenance``), as one UTF-8 buffer."""
        import pyarrow as pa
        import pyarrow.compute as pc

        entries, inverse = self.distinct(codes)
        frags = pa.array([e[1] for e in entries], pa.string()).take(pa.array(inverse))
        joined = pc.binary_join_element_wise(
            '{"persona_id":', pc.cast(pa.array(persona_id), pa.string()),
            ',"draw":', pc.cast(pa.array(draw), pa.string()),
            ",", frags, self._tail, "",
        )
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)[joined.offset : joined.offset + len(joined) + 1]
        return memoryview(joined.buffers()[2])[offsets[0] : offsets[-1]]
