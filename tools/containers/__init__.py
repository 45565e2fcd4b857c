"""Docker for the deploy files, on a machine like ours: images built from Debian's
packages and an offline wheel house (:mod:`.images`), a Docker daemon started by hand
and torn down again (:mod:`.daemon`), and ``make compose-test`` (:mod:`.compose_test`),
which brings a chain of services up with the generated compose file and talks to it.
Nothing here is shipped in an image."""
