"""
The generic Store: create, get, list, update (and patch), delete, deletecollection
and watch, written once for every resource and configured by a Strategy.

Objects go in and out as the served version's JSON-shaped dicts; storage holds
the storage version's JSON bytes without a resourceVersion (it is the key's
mod_revision, filled in on every read, as etcd3 does upstream).
"""

from __future__ import annotations

from typing import Awaitable, Callable, Optional, Union

from twisted.internet.defer import Deferred, DeferredList, DeferredSemaphore

from ..machinery import codec, errors, meta, schema, typed
from ..machinery.errors import GroupResource, StatusError
from ..machinery.jsoncopy import json_copy
from ..storage import Conflict, KeyExists, KeyNotFound, Storage
from ..watch.cache import CacheWatcher, Encoding, ObjectEncoding
from ..watch.cacher import NOT_CACHED, Cacher
from ..watch.reader import ReadsWatch, StorageReader
from . import attributes, conversion, gcpolicy
from .attributes import Admission, for_resource
from .catalog import ResourceInfo
from .options import DeleteOptions, ListOptions, WriteOptions
from .strategy import Strategy

UpdateFunc = Callable[[Optional[dict]], Union[dict, Awaitable[dict]]]

# An update attempt that has nothing to write.
_NO_CHANGE = object()

# How many names a create from generateName tries before its AlreadyExists stands (upstream's
# maxNameGenerationCreateAttempts).
GENERATE_NAME_ATTEMPTS = 8


class Store:
    def __init__(self, info: ResourceInfo, strategy: Strategy, storage: Storage, clock,
                 key_root: bytes, admission: Optional[Admission] = None, builtin: bool = True,
                 watch_cache_size: int = 0, resource_name: str = ""):
        self.info = info
        # How many objects one deletecollection deletes at once (the registry sets --delete-collection-workers).
        self.delete_collection_workers = 1
        # A built-in kind, not a custom resource: typed (its lists' items carry no kind/apiVersion, as upstream's
        # typed lists), with a schema for strategic merge patch, defaulted by kind rather than by a CRD schema.
        self.builtin = builtin
        self.strategy = strategy
        self.storage = storage
        self.clock = clock
        self.key_root = key_root.rstrip(b"/") + b"/"
        self.admission = admission
        self.qualified = GroupResource(info.group, info.resource)
        self._builtin_types = None
        # The definition whose empty collections storage gives back as null (see read_back), once known; "" none.
        self._read_back_definition: Optional[str] = None
        self._api_version = info.api_version
        # Every get, list and watch goes through one reads object: the resource's watch cache, or
        # (without one) a StorageReader with the same interface, which the cache also wraps.
        # Objects another process converts (a conversion webhook) are read from storage as they are stored
        # and converted on the way out, so such a resource has no watch cache.
        converting = strategy.converter is not None
        reader = StorageReader(storage, self.key_root, self.decode, strategy.field_set, clock,
                               resource=resource_name, convert=self.convert_read if converting else None)
        reader.served_json = self.served_json
        self.reads: Union[Cacher, StorageReader] = \
            Cacher(reader, watch_cache_size, clock) if watch_cache_size > 0 and not converting else reader
        # How a stored object in this resource's own version begins (see served_json).
        self._stored_head = b'{"kind":' + codec.dumps(info.kind) + b',"apiVersion":' + \
            codec.dumps(self._api_version) + b',"metadata":{'

    # -- keys and encoding ---------------------------------------------------------------
    def prefix(self, namespace: Optional[str]) -> bytes:
        if self.info.namespaced and namespace:
            return self.key_root + namespace.encode() + b"/"
        return self.key_root

    def key(self, namespace: Optional[str], name: str) -> bytes:
        if not name or "/" in name or name in (".", ".."):
            raise errors.bad_request(f"invalid resource name {name!r}" if name else "resource name may not be empty")
        if self.info.namespaced:
            if not namespace:
                raise errors.bad_request("namespace is required")
            return self.key_root + namespace.encode() + b"/" + name.encode()
        return self.key_root + name.encode()

    def decode(self, value: bytes, revision: int) -> dict:
        """The stored object in this resource's version; with a conversion webhook, in the version it was
        stored in (``convert_read`` then converts it)."""
        obj = codec.loads(value)
        if self.strategy.converter is None:
            obj = conversion.from_storage(obj, self.info)
        obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
        return obj

    def served_json(self, value: bytes, revision: int) -> Optional[bytes]:
        """What ``codec.dumps(self.decode(value, revision))`` gives, made from the stored bytes without decoding
        them where that is exact, else None: an object stored in this resource's own version, which reading
        leaves as it is (``conversion.read_as_stored``), as ``_stored`` writes it (by ``codec.dumps``, with
        kind, apiVersion and metadata first, and metadata's resourceVersion "", the only member of that name
        and value: one in metadata's maps, lists or strings would be quoted or named otherwise) gets its
        revision put in that member's place."""
        if not value.startswith(self._stored_head) or self.strategy.converter is not None or \
                value.count(b'"resourceVersion":""') != 1 or not conversion.read_as_stored(self.info):
            return None
        return value.replace(b'"resourceVersion":""', b'"resourceVersion":"%d"' % revision, 1)

    async def convert_read(self, objects: list[dict]) -> list[dict]:
        """``objects`` as decoded, each in this resource's version: those stored in another version go to
        the conversion webhook together (one ConversionReview for a list, as upstream)."""
        converter = self.strategy.converter
        others = [i for i, obj in enumerate(objects) if obj.get("apiVersion") != self._api_version]
        if converter is None or not others:
            return objects
        converted = await converter([objects[i] for i in others], self._api_version)
        out = list(objects)
        for i, obj in zip(others, converted):
            # What the served version's schema prunes and defaults, as for any object read.
            out[i] = conversion.from_storage(obj, self.info)
        return out

    async def _read(self, kv) -> dict:
        """A stored KeyValue as an object of this resource's version."""
        obj = self.decode(kv.value, kv.mod_revision)
        if self.strategy.converter is not None:
            obj = (await self.convert_read([obj]))[0]
        return obj

    async def _stored(self, obj: dict) -> bytes:
        """``obj`` encoded for storage; a conversion webhook first converts it to the storage version."""
        converter = self.strategy.converter
        group, version = self.info.storage_gv
        storage_version = f"{group}/{version}" if group else version
        if converter is not None and storage_version != self._api_version:
            rv = obj.get("metadata", {}).get("resourceVersion")
            obj = (await converter([obj], storage_version))[0]
            obj.setdefault("metadata", {})["resourceVersion"] = rv
        return self.encode(obj)

    def encode(self, obj: dict) -> bytes:
        # resourceVersion is the key's mod_revision; an empty one keeps its place
        # in the metadata, so decoding need not reorder.  The metadata is put in order once, with it.
        metadata = {k: v for k, v in obj["metadata"].items() if k != "selfLink"}
        metadata["resourceVersion"] = ""
        stored = meta.ordered_object({**obj, "metadata": metadata})
        return codec.dumps(conversion.to_storage(stored, self.info))

    def now(self) -> float:
        return self.clock.seconds()

    # -- reads ---------------------------------------------------------------------------
    async def get(self, namespace: Optional[str], name: str, resource_version: str = "") -> dict:
        """A read of one object, consistent unless ``resource_version`` (a GET's) says otherwise ("0": any
        state the watch cache holds; N: not older than N): a fresh dict the caller may change."""
        return await self._get(namespace, name, shared=False, resource_version=resource_version)

    async def get_shared(self, namespace: Optional[str], name: str) -> dict:
        """The same read for a caller that only reads the object (admission looking at a
        namespace on every write): the watch cache's own dict when it serves it, never to change."""
        return await self._get(namespace, name, shared=True)

    def peek_shared(self, namespace: Optional[str], name: str) -> "dict | None | object":
        """What the watch cache holds of the object right now, without the wait for it to catch up with storage
        that a consistent read makes (an informer's lister read): its own dict, never to change; None when it
        holds no such object; NOT_CACHED when there is no filled cache to ask."""
        peek_shared = getattr(self.reads, "peek_shared", None)
        return NOT_CACHED if peek_shared is None else peek_shared(self.key(namespace, name))

    async def get_encoded(self, namespace: Optional[str], name: str, resource_version: str = "") -> Optional[bytes]:
        """The same read as ``get``, as the object's JSON (what ``codec.dumps`` makes of it) when the watch
        cache serves it, encoded once per object version; None when only ``get`` can answer."""
        get_encoded = getattr(self.reads, "get_encoded", None)
        if get_encoded is None:
            return None
        return self._found(await get_encoded(self.key(namespace, name), resource_version), name)

    def get_encoded_now(self, namespace: Optional[str], name: str, resource_version: str = "") -> Optional[bytes]:
        """``get_encoded``'s answer when the watch cache gives it without a wait; None when only ``get_encoded``
        can say."""
        get_encoded_now = getattr(self.reads, "get_encoded_now", None)
        if get_encoded_now is None:
            return None
        return self._found(get_encoded_now(self.key(namespace, name), resource_version), name)

    def written_json(self, obj: dict) -> Optional[bytes]:
        """The JSON of ``obj``, an object of this resource as a write or read of it returned, as a GET of that
        version gives it (``codec.dumps`` of it as read back from storage): the watch cache's bytes when the
        cache holds that very version, None otherwise (the caller encodes ``obj``)."""
        peek = getattr(self.reads, "peek", None)
        meta_ = obj.get("metadata")
        if peek is None or self.strategy.converter is not None or not isinstance(meta_, dict) or \
                obj.get("kind") != self.info.kind or obj.get("apiVersion") != self._api_version:
            return None
        revision, name = meta_.get("resourceVersion"), meta_.get("name")
        if not revision or not name or not isinstance(revision, str) or not revision.isdigit():
            return None
        found = peek(self.key(meta_.get("namespace") if self.info.namespaced else None, name))
        return found[0] if found is not None and found[1] == int(revision) else None

    def _found(self, encoded, name: str) -> Optional[bytes]:
        if encoded is None:
            raise errors.not_found(self.qualified, name)
        return None if encoded is NOT_CACHED else encoded

    async def _get(self, namespace: Optional[str], name: str, shared: bool, resource_version: str = "") -> dict:
        obj = await self.reads.get(self.key(namespace, name), shared, resource_version)
        if obj is None:
            raise errors.not_found(self.qualified, name)
        return obj

    async def list(self, namespace: Optional[str], options: ListOptions) -> tuple[list[dict], dict]:
        """(items, list metadata {resourceVersion, continue?, remainingItemCount?}).
        Items may be the watch cache's own dicts: read them, never change them."""
        return await self.reads.list(self.prefix(namespace), options)

    def peek_list(self, namespace: Optional[str]):
        """The same list as ``list`` at resourceVersion "0" without selectors or limit, answered at once from the
        filled watch cache: its items (read them, never change them); NOT_CACHED when only ``list`` can answer."""
        peek_list = getattr(self.reads, "peek_list", None)
        return NOT_CACHED if peek_list is None else peek_list(self.prefix(namespace))

    async def list_encoded(self, namespace: Optional[str], options: ListOptions):
        """The same list as ``list`` when the watch cache serves it, as its entries (``encoded(strip_type)``:
        the items' JSON, from each object's cached bytes, nothing decoded) and the list metadata; None when
        only ``list`` can answer."""
        list_encoded = getattr(self.reads, "list_encoded", None)
        if list_encoded is None:
            return None
        return await list_encoded(self.prefix(namespace), options)

    # -- create --------------------------------------------------------------------------
    def _check_namespace(self, obj: dict, namespace: Optional[str]) -> None:
        meta.place_in_namespace(obj["metadata"], namespace, self.info.namespaced)

    def _check_type(self, obj: dict) -> None:
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be an object")
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != self.info.kind or api_version and api_version != self._api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({self._api_version})" if api_version and api_version != self._api_version else
                f"the kind in the data ({kind}) does not match the expected kind ({self.info.kind})")
        if not isinstance(obj.get("metadata", {}), dict):
            raise errors.bad_request("metadata must be an object")
        obj["apiVersion"], obj["kind"] = self._api_version, self.info.kind

    async def create(self, namespace: Optional[str], obj: dict, options: WriteOptions = WriteOptions()) -> dict:
        """Create ``obj``. A name made from generateName that is taken already is made again, up to
        GENERATE_NAME_ATTEMPTS times in all (upstream 1.32's RetryGenerateName)."""
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(metadata, dict) or metadata.get("name") or not metadata.get("generateName"):
            return await self._create(namespace, obj, options)
        for attempt in range(1, GENERATE_NAME_ATTEMPTS + 1):
            try:
                return await self._create(namespace, json_copy(obj) if attempt < GENERATE_NAME_ATTEMPTS
                                          else obj, options)
            except StatusError as e:
                if e.reason != "AlreadyExists" or attempt == GENERATE_NAME_ATTEMPTS:
                    raise

    async def _create(self, namespace: Optional[str], obj: dict, options: WriteOptions) -> dict:
        self._check_type(obj)
        obj = meta.ordered_object(obj)
        obj.setdefault("metadata", {})
        self._check_namespace(obj, namespace)
        self.strategy.default(obj)
        admission = self.admission
        if admission is not None:
            # Upstream's order: mutating admission, then the server's preparation and validation (so what a
            # plugin or webhook added is defaulted and validated too), then validating admission.
            request = for_resource(self.info, attributes.CREATE, obj, None, options=options,
                                   dry_run=options.dry_run)
            await admission.admit(request)
            if request.patched:
                self.strategy.default(obj)
        meta_ = obj["metadata"]
        # What upstream's create wipes; a generation given stays (validated; a kind that tracks one starts it at
        # 1), and a resourceVersion given is refused by storage below, as upstream's.
        given_version = meta_.pop("resourceVersion", None)
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "uid", "creationTimestamp"):
            meta_.pop(field, None)
        self.strategy.prepare_for_create(obj)
        if not meta_.get("name") and meta_.get("generateName"):
            meta_["name"] = meta.generate_name(meta_["generateName"])
        meta_["uid"] = meta.new_uid()
        meta_["creationTimestamp"] = meta.rfc3339(self.now())
        obj["metadata"] = meta_ = meta.ordered_metadata(meta_)
        self._record_managed_fields(None, obj, options, "")
        # Upstream's BeginCreate: what the object takes from allocators (a Service's cluster IPs and node ports) is
        # taken before it is validated, so validation and validating admission see it; it goes back if the create
        # fails.
        revert = await self.strategy.begin_create(obj, options.dry_run)
        try:
            revision = await self._validate_and_create(obj, given_version, options)
        except BaseException:
            if revert is not None:
                await revert()
            raise
        if revision is None:
            return obj
        meta_["resourceVersion"] = str(revision)
        # In its place in Go's field order, as the stored bytes have it (it was taken out above).
        obj["metadata"] = meta.ordered_metadata(meta_)
        await self.strategy.after_write(obj)
        return obj

    async def _validate_and_create(self, obj: dict, given_version, options: WriteOptions) -> Optional[int]:
        """The rest of a create: validation, validating admission, the write (the revision; None for a dry run)."""
        meta_ = obj["metadata"]
        if self.strategy.prepares_validation:
            await self.strategy.prepare_validation(obj, None)
        field_errors = self.strategy.validate(obj)
        if field_errors:
            raise errors.invalid_object(self.info.group, self.info.kind, meta_.get("name", ""), field_errors)
        if self.admission is not None:
            await self.admission.validate(for_resource(self.info, attributes.CREATE, obj, None, options=options,
                                                       dry_run=options.dry_run))
        self.strategy.as_stored(obj)
        self.read_back(obj)
        if not meta_.get("name"):
            # Kinds whose validation skips ObjectMeta (legacy events) meet upstream's key function here.
            raise errors.bad_request("Name parameter required.")
        key = self.key(meta_.get("namespace"), meta_["name"])
        if options.dry_run:
            # As upstream's dry-run storage: a name taken is the create's 409, nothing is written.
            if await self.storage.get(key) is not None:
                raise errors.already_exists(self.qualified, meta_["name"])
            return None
        if isinstance(given_version, str) and given_version.isdigit() and int(given_version):
            # Upstream's storage refuses it with an error no API status names: a 500, without a reason.
            raise StatusError(500, "", "resourceVersion should not be set on objects to be created")
        await self.strategy.before_create(obj)
        try:
            return await self.storage.create(key, await self._stored(obj))
        except KeyExists:
            raise errors.already_exists(self.qualified, meta_["name"]) from None

    # -- update --------------------------------------------------------------------------
    def precondition_conflict(self, namespace: Optional[str], name: str, field: str, given: str,
                              actual) -> StatusError:
        """A storage precondition (``field`` "UID" or "ResourceVersion") the stored object fails: upstream's
        storage invalid-object error, which its store answers as a 409."""
        key = self.key(namespace, name).decode()
        return errors.conflict(self.qualified, name,
                               f"StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, "
                               f"AdditionalErrorMsg: Precondition failed: {field} in precondition: {given}, "
                               f"{field} in object meta: {actual}")

    async def update(self, namespace: Optional[str], name: str, update: UpdateFunc,
                     options: WriteOptions = WriteOptions(), subresource: str = "",
                     allow_create: Optional[bool] = None, precondition_uid: Optional[str] = None) -> tuple[dict, bool]:
        """Apply ``update`` (old object or None -> new object) with optimistic
        concurrency, retrying on storage conflicts; a new object naming a resourceVersion other than
        the stored one is a 409.  ``precondition_uid``: the uid a PUT's object names, which the stored object
        must have (upstream's update keeps it as a storage precondition).  (object, created?)."""
        key = self.key(namespace, name)
        if allow_create is None:
            allow_create = self.strategy.allow_create_on_update and not subresource
        # As upstream's GuaranteedUpdate: the first attempt starts from the watch cache's object, when it
        # has one (no storage read); storage's compare-and-swap refuses a stale one. An attempt on a cached
        # object that fails, or changes nothing, is made again on storage's, unless that is the same.
        peek = getattr(self.reads, "peek", None) if self.strategy.converter is None else None
        guess = peek(key) if peek is not None else None
        while True:
            if guess is not None:
                encoded, mod_revision = guess
                old, mine = codec.loads(encoded), codec.loads(encoded)
            else:
                kv = await self.storage.get(key)
                mod_revision = kv.mod_revision if kv is not None else 0
                old = await self._read(kv) if kv is not None else None
                # The update function's own copy: decoding the stored bytes again costs a tenth of a deep
                # copy; but a conversion webhook is asked once per attempt, and its answer copied.
                if old is None:
                    mine = None
                elif self.strategy.converter is None:
                    mine = self.decode(kv.value, kv.mod_revision)
                else:
                    mine = json_copy(old)
            if precondition_uid and old is not None and old["metadata"].get("uid") != precondition_uid:
                if guess is not None:
                    guess = None    # said of a cached object: made sure of on storage's
                    continue
                raise self.precondition_conflict(namespace, name, "UID", precondition_uid, old["metadata"].get("uid"))
            try:
                outcome = await self._update_attempt(namespace, name, key, update, options, subresource,
                                                     allow_create, old, mine, mod_revision, guess is not None)
            except StatusError as error:
                if guess is None:
                    raise
                # Perhaps from a stale object: the error stands if storage holds that very version.
                kv = await self.storage.get(key)
                if kv is not None and kv.mod_revision == guess[1]:
                    raise error
                guess = None
                continue
            if outcome is _NO_CHANGE:
                if guess is None:
                    return old, False
                guess = None    # nothing to write, said of a cached object: made sure of on storage's
                continue
            if outcome is None:
                guess = None    # written meanwhile: again on the fresh object
                continue
            return outcome

    async def _update_attempt(self, namespace, name, key, update, options, subresource, allow_create,
                              old, mine, mod_revision, cached: bool):
        """One attempt of ``update`` on ``old`` (the watch cache's object when ``cached``): (object,
        created?); _NO_CHANGE when there is nothing to write; None on a storage conflict (to be made
        again)."""
        new = update(mine)
        if hasattr(new, "__await__"):
            new = await new
        self._check_type(new)
        new.setdefault("metadata", {})
        if new["metadata"].get("name", name) != name:
            raise errors.bad_request(
                "the name of the object (%s) does not match the name on the URL (%s)"
                % (new["metadata"].get("name"), name))
        given = new["metadata"].get("namespace")
        if namespace and given and given != namespace:
            # Before the object is looked at, as upstream's update handler checks it (a 400 even for a PUT that
            # would create).
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request")
        new["metadata"]["name"] = name
        if old is None:
            if not allow_create:
                raise errors.not_found(self.qualified, name)
            # As upstream's Store.Update creating the object: the version the object names (a PUT's, an apply's
            # configuration's) is not looked at, and storage drops it (PrepareObjectForStorage).
            new["metadata"].pop("resourceVersion", None)
            return await self.create(namespace, new, options), True
        self._check_namespace(new, namespace)
        requested_rv = new["metadata"].get("resourceVersion")
        if not requested_rv and not self.strategy.allow_unconditional_update:
            # As upstream's store words it: the resource named as the kind, the missing version as Go's uint64 0.
            raise errors.invalid_object(self.info.group, self.info.resource, name, [errors.FieldError(
                "FieldValueInvalid", "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update")])
        if requested_rv and requested_rv != old["metadata"]["resourceVersion"]:
            raise errors.modified(self.qualified, name)
        # A status write's body is defaulted as upstream decodes every body (a custom resource's pruned by its
        # schema too, so its unknown fields are neither stored nor in managedFields); other subresources write
        # objects of their own kind (Scale, Binding, ...) or change the object in a way of their own.
        defaulted = subresource in ("", "status")
        if defaulted:
            self.strategy.default(new)
        admission = self.admission
        if admission is not None:
            request = for_resource(self.info, attributes.UPDATE, new, old, subresource, options,
                                   dry_run=options.dry_run)
            await admission.admit(request)
            if request.patched and defaulted:
                self.strategy.default(new)
        new = self._prepare_update(new, old, subresource)
        self._record_managed_fields(old, new, options, subresource)
        deleting = self._should_delete_during_update(new)
        # Upstream's BeginUpdate, as BeginCreate above (the main resource's store has it, a subresource's not):
        # taken before validation, given back unless the new object is written (an update that deletes the object
        # writes nothing: what the stored object held goes back after the delete).
        revert = None if subresource else await self.strategy.begin_update(new, old, options.dry_run)
        try:
            outcome = await self._validate_and_update(key, mod_revision, new, old, subresource, options, deleting,
                                                      requested_rv, cached)
        except BaseException:
            if revert is not None:
                await revert()
            raise
        if revert is not None and (outcome is None or outcome is _NO_CHANGE or deleting):
            await revert()
        return outcome

    async def _validate_and_update(self, key: bytes, mod_revision: int, new: dict, old: dict, subresource: str,
                                   options: WriteOptions, deleting: bool, requested_rv, cached: bool):
        """The rest of an update: validation, validating admission, the write (see _update_once)."""
        name = new["metadata"]["name"]
        admission = self.admission
        if not subresource and self.strategy.prepares_validation:
            await self.strategy.prepare_validation(new, old)
        field_errors = self.strategy.validate_subresource_update(subresource, new, old) if subresource \
            else self.strategy.validate_update(new, old)
        if field_errors:
            raise errors.invalid_object(self.info.group, self.info.kind, name, field_errors)
        if admission is not None:
            await admission.validate(for_resource(self.info, attributes.UPDATE, new, old, subresource, options,
                                                  dry_run=options.dry_run))
        if not subresource:
            self.strategy.as_stored(new)
        if not deleting:
            self.read_back(new)
            if _same(new, old) or self.read_back_differs(old) and _same(new, self.read_back_copy(old)):
                # Nothing to write (also where the stored object, written before read_back was, holds an empty
                # collection that reads back null: the bytes upstream would store are the same).
                return _NO_CHANGE
        if options.dry_run:
            return new, False
        if not deleting:
            await self.strategy.before_update(new, old)
        try:
            if deleting:
                revision, _ = await self.storage.delete(key, mod_revision)
            else:
                revision = await self.storage.update(key, await self._stored(new), mod_revision)
        except Conflict:
            # Written meanwhile: try again on the fresh object. A request that named its
            # resourceVersion meets the check above and gets its 409 then; a patch, re-applied to the
            # fresh object, carries the fresh resourceVersion and goes through, as upstream's
            # GuaranteedUpdate retries it.
            return None
        except KeyNotFound:
            # Deleted since it was read from storage; a cached object may just be stale: made again on
            # storage's (none: a 404, or a create where allowed).
            if requested_rv and not cached:
                raise errors.modified(self.qualified, name) from None
            return None
        new["metadata"]["resourceVersion"] = str(revision)
        if deleting:
            # What the stored object held, not what the body names (storage deleted ``old``'s revision).
            await self.strategy.after_delete(old)
        else:
            await self.strategy.after_update(new, old)
            await self.strategy.after_write(new)
        return new, False

    def _read_back_plan(self) -> str:
        """The definition whose empty collections read back null ("" where this kind has none), found once."""
        definition = self._read_back_definition
        if definition is None:
            name = schema.definition_name_for(self.info.group, self.info.version, self.info.kind) \
                if self.builtin else None
            definition = self._read_back_definition = name if typed.reads_back_nulls(name) else ""
        return definition

    def read_back(self, obj: dict) -> None:
        """A built-in object about to be written made what reading it back gives upstream, whose storage (protobuf)
        keeps no empty slice or map apart from none: those of fields without omitempty become null, so the answer,
        the stored object and a later read agree (a ClusterRole's ``rules: []`` is ``rules: null``)."""
        definition = self._read_back_plan()
        if definition:
            typed.as_read_back(obj, definition)

    def read_back_differs(self, obj: dict) -> bool:
        """Whether read_back would change ``obj`` (a stored one, written before read_back was, or by another
        server), looked at without changing it."""
        definition = self._read_back_plan()
        return bool(definition) and typed.reads_back_differently(obj, definition)

    def read_back_copy(self, obj: dict) -> dict:
        copied = json_copy(obj)
        self.read_back(copied)
        return copied

    def _record_managed_fields(self, old: Optional[dict], new: dict, options: WriteOptions,
                               subresource: str) -> None:
        """managedFields for an Update operation; an apply has already set its own."""
        if getattr(options, "operation", "Update") != "Update":
            return
        fieldmanager = _fieldmanager()
        if self.builtin:
            # A built-in kind's schema and zero value never change: looked up once.
            if self._builtin_types is None:
                self._builtin_types = (fieldmanager.types_for(self),
                                       fieldmanager.zero_object(self.info.group, self.info.kind))
            types, seed = self._builtin_types
        else:
            # A custom resource's schema changes with its CRD.
            types, seed = fieldmanager.types_for(self), None
        # Upstream compares a create against the type's zero value, whose structs exist empty.
        fieldmanager.record_update(old, new, options.field_manager or "kube-apiserver", self._api_version,
                                   self.now(), types, subresource,
                                   ignore_status=self.strategy.has_status and not subresource, seed=seed)

    def _prepare_update(self, new: dict, old: dict, subresource: str) -> dict:
        new = meta.ordered_object(new)
        meta_, old_meta = new["metadata"], old["metadata"]
        # Fields the server owns: a client cannot change them by an update.
        for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation", "namespace"):
            if field in old_meta:
                meta_[field] = old_meta[field]
            else:
                meta_.pop(field, None)
        meta_.pop("selfLink", None)
        meta_["resourceVersion"] = old_meta["resourceVersion"]
        if subresource == "status":
            self.strategy.prepare_for_status_update(new, old)
        elif subresource == "finalize":
            self.strategy.prepare_for_finalize(new, old)
        elif subresource == "approval":
            self.strategy.prepare_for_approval(new, old)
        elif subresource:
            self.strategy.prepare_for_subresource_update(subresource, new, old)
        else:
            self.strategy.prepare_for_update(new, old)
        # The strategy's metadata: a subresource's write is defaulted by it (a custom resource's pruned into new
        # dicts), so what it set (the generation it bumped) is not in meta_ any more.
        new["metadata"] = meta.ordered_metadata(new["metadata"])
        return new

    def _should_delete_during_update(self, obj: dict) -> bool:
        meta_ = obj["metadata"]
        return bool(meta_.get("deletionTimestamp")) and not self.strategy.pending_finalizers(obj) \
            and not meta_.get("deletionGracePeriodSeconds")

    # -- delete --------------------------------------------------------------------------
    async def delete(self, namespace: Optional[str], name: str,
                     options: DeleteOptions = DeleteOptions(), collection: bool = False) -> tuple[dict, bool]:
        """(the object, deleted now?).  An object with finalizers or a grace period
        is marked with a deletionTimestamp and stays until they are done.  ``collection``: one object of a
        deletecollection, which the strategy's refusals of single deletes do not stop (as upstream's)."""
        if not collection:
            refusal = self.strategy.refuse_delete(name)
            if refusal is not None:
                raise errors.forbidden_request(self.qualified, name,
                                               f'{self.qualified} "{name}" is forbidden: {refusal}')
        key = self.key(namespace, name)
        while True:
            kv = await self.storage.get(key)
            if kv is None:
                raise errors.not_found(self.qualified, name)
            obj = await self._read(kv)
            meta_ = obj["metadata"]
            if options.precondition_uid is not None and options.precondition_uid != meta_.get("uid"):
                raise self.strategy.precondition_failed(name, "UID", options.precondition_uid, meta_.get("uid"))
            if options.precondition_resource_version is not None and \
                    options.precondition_resource_version != meta_["resourceVersion"]:
                raise self.strategy.precondition_failed(name, "ResourceVersion",
                                                        options.precondition_resource_version,
                                                        meta_["resourceVersion"])
            if self.admission is not None:
                request = for_resource(self.info, attributes.DELETE, None, obj, options=options,
                                       dry_run=options.dry_run)
                await self.admission.admit(request)
                await self.admission.validate(request)
            current = meta_.get("deletionGracePeriodSeconds") or 0
            if self.strategy.graceful_delete and current > 0 and meta_.get("deletionTimestamp"):
                # A graceful deletion under way (upstream's BeforeDelete): only a shorter period given changes it;
                # else nothing does, the garbage collector's finalizers included.
                asked = options.grace_period_seconds
                grace = current if asked is None else 1 if int(asked) < 0 else int(asked)
                if grace >= current:
                    return obj, False
            else:
                grace = self.strategy.check_graceful_delete(obj, options.grace_period_seconds)
            # The garbage collector's orphan/foregroundDeletion finalizers, per propagationPolicy.
            gc_changed, finalizers = gcpolicy.deletion_finalizers(self.info, meta_, options)
            if gc_changed:
                if finalizers:
                    meta_["finalizers"] = finalizers
                else:
                    meta_.pop("finalizers", None)
            pending = self.strategy.pending_finalizers(obj) or grace > 0
            deleting = bool(meta_.get("deletionTimestamp"))
            if deleting and pending and not gc_changed and not grace < current:
                # Already being deleted: only a shorter grace period changes anything.
                return obj, False
            # Marked (a deletionTimestamp written) when something must finish first, and, for a kind that deletes
            # gracefully (pods), even when it goes at once (or its grace period is cut to nothing), as upstream's
            # BeforeDelete marks it: watchers see the mark and then the delete, and the answer (a dry run's too)
            # carries it.
            mark = pending or (self.strategy.graceful_delete and (not deleting or grace < current))
            if mark:
                if not deleting:
                    meta_["deletionTimestamp"] = meta.rfc3339(self.now() + grace)
                    meta_["deletionGracePeriodSeconds"] = grace
                    # Marked for deletion the first time: its controllers see a new generation, as upstream
                    # bumps it (for graceful deletion and for an object held by finalizers alike).
                    if isinstance(meta_.get("generation"), int) and meta_["generation"] > 0:
                        meta_["generation"] += 1
                elif grace < current:
                    # A shorter grace period moves the deadline by the difference, from when it was set.
                    meta_["deletionTimestamp"] = meta.rfc3339(
                        meta.parse_time(meta_["deletionTimestamp"]) - current + grace)
                    meta_["deletionGracePeriodSeconds"] = grace
                self.strategy.prepare_for_delete(obj)
                obj["metadata"] = meta_ = meta.ordered_metadata(meta_)
            if options.dry_run:
                return obj, not pending
            try:
                mod_revision = kv.mod_revision
                if mark:
                    mod_revision = await self.storage.update(key, await self._stored(obj), mod_revision)
                    meta_["resourceVersion"] = str(mod_revision)
                    if pending:
                        return obj, False
                revision, _ = await self.storage.delete(key, mod_revision)
            except (Conflict, KeyNotFound):
                continue
            await self.strategy.after_delete(obj)
            meta_["resourceVersion"] = str(revision)
            return obj, True

    async def delete_collection(self, namespace: Optional[str], list_options: ListOptions,
                                options: DeleteOptions) -> tuple[list[dict], dict]:
        """Delete what the list selects, and answer that list (the objects as listed, as upstream's
        DeleteCollection answers): with a limit, one page of it (its continue token names the next), else all.
        One already gone is passed over; another error stops the deletes there."""
        if list_options.limit > 0:
            listing = list_options
        else:
            listing = ListOptions(label_selector=list_options.label_selector,
                                  field_selector=list_options.field_selector,
                                  resource_version=list_options.resource_version,
                                  resource_version_match=list_options.resource_version_match)
        items, list_meta = await self.list(namespace, listing)
        workers = self.delete_collection_workers
        if workers == 1 or len(items) < 2:
            for item in items:
                await self._delete_listed(item, options)
            return items, list_meta
        # Several at once (--delete-collection-workers): every object is tried, and the first failure, if any,
        # is the answer, as upstream's workers go on with the rest when one fails.
        semaphore = DeferredSemaphore(workers)
        outcomes = await DeferredList(
            [semaphore.run(lambda item=item: Deferred.fromCoroutine(self._delete_listed(item, options)))
             for item in items], consumeErrors=True)
        for ok, outcome in outcomes:
            if not ok:
                outcome.raiseException()
        return items, list_meta

    async def _delete_listed(self, item: dict, options: DeleteOptions) -> None:
        """One object of a deletecollection; one already gone is passed over."""
        item_meta = item["metadata"]
        try:
            await self.delete(item_meta.get("namespace"), item_meta["name"], options, collection=True)
        except StatusError as e:
            if e.code != 404:
                raise

    # -- watch ---------------------------------------------------------------------------
    async def watch(self, namespace: Optional[str], options: ListOptions, encoding: Encoding,
                    wake: Callable[[CacheWatcher], None]) -> ReadsWatch:
        """Start a watch: ``wake(watcher)`` is called on the reactor thread whenever the handle has
        payloads to take() (each made by ``encoding``) or has closed (``watcher.error`` then says
        why, if its client must be told).  Without a resourceVersion (or "0") the current objects
        come first as ADDED.  Raises StatusError 410 (too old) or 504 (too large)."""
        return await self.reads.watch(self.prefix(namespace), options, encoding, wake)

    async def watch_events(self, namespace: Optional[str], options: ListOptions,
                           send: Callable[[str, dict], None]) -> ReadsWatch:
        """The same watch for in-process watchers: ``send(type, object)`` for each event, BOOKMARK
        included, and ERROR (a Status) when the watch ends with an error."""
        def wake(watcher: CacheWatcher) -> None:
            for event_type, obj in watcher.take():
                send(event_type, obj)
            if watcher.closed and watcher.error is not None:
                send("ERROR", watcher.error.to_status())
        return await self.watch(namespace, options, ObjectEncoding(self.info.kind, self._api_version), wake)


_FIELDMANAGER = None


def _fieldmanager():
    """machinery.fieldmanager, imported at the first write rather than at start."""
    global _FIELDMANAGER
    if _FIELDMANAGER is None:
        from ..machinery import fieldmanager
        _FIELDMANAGER = fieldmanager
    return _FIELDMANAGER


def _same(new: dict, old: dict) -> bool:
    return new == old
