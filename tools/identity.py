"""Identity keys for the calls policy: one Ed25519 key per service, and the list of
their public halves.

``MODELCHAIN_POLICY=1 make run`` calls :func:`dev_identities` to keep a key per
registered service in ``.run/identity/`` (ignored by git, created once and reused;
``MODELCHAIN_IDENTITY_DIR`` names another folder) and hands each process only its own
members' keys. For a deployment::

    python -m tools.identity OUT_DIR            # every registered service
    python -m tools.identity OUT_DIR sentiment  # only those named

writes ``OUT_DIR/<service>.key`` (mode 600: a secret, for ``<SERVICE>_IDENTITY_KEY``
or ``<SERVICE>_IDENTITY_KEY_FILE``) and ``OUT_DIR/public-keys`` (for
``MODELCHAIN_IDENTITY_PUBLIC_KEYS``; not a secret), keeping keys already there, and
prints the commands that load them into Kubernetes.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from common.core.identity import new_private_key, public_key_text
from common.core.registry import ROOT, ProcessUnit, load_registry

DEV_FOLDER = ROOT / ".run" / "identity"
PUBLIC_FILE = "public-keys"


@dataclass(frozen=True)
class Identities:
    """A folder of identity keys: ``<service>.key`` each, and ``public-keys``."""

    folder: Path

    def key_file(self, service: str) -> Path:
        """Where ``service``'s private key is kept."""
        return self.folder / f"{service}.key"

    @property
    def public_file(self) -> Path:
        """The ``name=key`` list of every service's public key."""
        return self.folder / PUBLIC_FILE

    def environment(self, unit: ProcessUnit) -> dict[str, str]:
        """What one process needs: its members' own keys, every public key."""
        env = {f"{m.service_name.upper()}_IDENTITY_KEY_FILE": str(self.key_file(m.service_name))
               for m in unit.members}
        return {**env, "MODELCHAIN_IDENTITY_PUBLIC_KEYS_FILE": str(self.public_file)}


def ensure_keys(folder: Path, services: Iterable[str]) -> Identities:
    """A private key for each service (kept when there already is one) and the
    public-keys file of all the keys in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    identities = Identities(folder)
    for service in dict.fromkeys(services):
        path = identities.key_file(service)
        if not path.exists():
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.write(new_private_key() + "\n")
    lines = [f"{p.stem}={public_key_text(p.read_text())}"
             for p in sorted(folder.glob("*.key"))]
    identities.public_file.write_text("\n".join(lines) + "\n")
    return identities


def dev_identities(folder: Path | None = None) -> Identities:
    """The local run's keys: one per registered service, under ``.run/identity`` (or
    ``MODELCHAIN_IDENTITY_DIR``)."""
    folder = folder or Path(os.environ.get("MODELCHAIN_IDENTITY_DIR") or DEV_FOLDER)
    return ensure_keys(folder, (e.service_name for e in load_registry().values()))


def kubectl_commands(identities: Identities, services: Iterable[str]) -> list[str]:
    """The commands that give a cluster these keys (the names the generated files
    read: ``<service>-identity`` Secrets, the ``modelchain-identity`` ConfigMap)."""
    commands = [f"kubectl create secret generic {s.replace('_', '-')}-identity "
                f"--from-file=identity-key={identities.key_file(s)}" for s in services]
    return commands + ["kubectl create configmap modelchain-identity "
                       f"--from-file=public-keys={identities.public_file}"]


def main(argv: list[str] | None = None) -> int:
    """Write identity keys for the services named (default: every registered one)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folder", type=Path, help="where the keys go (keep it private)")
    parser.add_argument("services", nargs="*", help="services (default: all registered)")
    args = parser.parse_args(argv)
    known = list(dict.fromkeys(e.service_name for e in load_registry().values()))
    unknown = [s for s in args.services if s not in known]
    if unknown:
        parser.error(f"not registered: {', '.join(unknown)}; services: {', '.join(known)}")
    services = args.services or known
    identities = ensure_keys(args.folder, services)
    print(f"# {len(services)} private keys and {identities.public_file} in {args.folder}")
    print("\n".join(kubectl_commands(identities, services)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
