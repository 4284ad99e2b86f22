"""The informer's store: the latest state of each object by its key, with indexes (client-go's Indexer)."""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple


def meta_namespace_key(obj: dict) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name', '')}" if namespace else meta.get("name", "")


def split_key(key: str) -> Tuple[str, str]:
    """(namespace or "", name) of a key."""
    namespace, _, name = key.rpartition("/")
    return namespace, name


def _by_namespace(obj: dict) -> List[str]:
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


IndexFunc = Callable[[dict], Iterable[str]]


class Indexer:
    def __init__(self, key_func: Callable[[dict], str] = meta_namespace_key):
        self.key_func = key_func
        self._items: Dict[str, dict] = {}
        self._index_funcs: Dict[str, IndexFunc] = {"namespace": _by_namespace}
        self._indices: Dict[str, Dict[str, Set[str]]] = {"namespace": {}}

    # -- reads --------------------------------------------------------------------------------------
    def get(self, key: str) -> Optional[dict]:
        return self._items.get(key)

    def get_by_key(self, namespace: Optional[str], name: str) -> Optional[dict]:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> List[dict]:
        return list(self._items.values())

    def keys(self) -> List[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def by_index(self, index_name: str, value: str) -> List[dict]:
        keys = self._indices[index_name].get(value, ())
        return [self._items[k] for k in keys]

    def index_keys(self, index_name: str, value: str) -> List[str]:
        return list(self._indices[index_name].get(value, ()))

    # -- indexes ------------------------------------------------------------------------------------
    def add_indexers(self, funcs: Dict[str, IndexFunc]) -> None:
        for name, func in funcs.items():
            if name in self._index_funcs:
                if self._index_funcs[name] is func:
                    continue
                raise ValueError(f"indexer conflict: {name}")
            self._index_funcs[name] = func
            index: Dict[str, Set[str]] = {}
            for key, obj in self._items.items():
                for value in func(obj):
                    index.setdefault(value, set()).add(key)
            self._indices[name] = index

    # -- writes (the reflector's) -------------------------------------------------------------------
    def add(self, obj: dict) -> Optional[dict]:
        """Store ``obj``; the state it replaced, if any."""
        key = self.key_func(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name, func in self._index_funcs.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is None:
                    keys = index[value] = set()
                keys.add(key)
        return old

    def delete(self, obj: dict) -> Optional[dict]:
        key = self.key_func(obj)
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _unindex(self, key: str, obj: dict) -> None:
        for name, func in self._index_funcs.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
