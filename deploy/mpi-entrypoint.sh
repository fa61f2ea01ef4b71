#!/usr/bin/env bash
# Entrypoint of the bert-squad image. In a launcher pod (an MPIJob's, where the MPI Operator
# sets K_MPI_JOB_ROLE=launcher, or a Kubeflow Trainer TrainJob's, where the runtime
# runtime-bert-squad-mpi.yaml sets BERT_MPI_LAUNCHER=1) it waits until every host named in the
# hostfile resolves in DNS, so mpirun does not fail on a pod whose record is not published yet;
# then, and everywhere else, it runs its arguments.
set -euo pipefail

hostfile=${OMPI_MCA_orte_default_hostfile:-/etc/mpi/hostfile}
wait_limit_s=${BERT_DNS_WAIT_SECONDS:-300}

wait_for_host() {
  local host=$1 waited=0 pause=1
  until getent hosts "$host" >/dev/null; do
    if (( waited >= wait_limit_s )); then
      echo "mpi-entrypoint: $host (from $hostfile) did not resolve within ${wait_limit_s}s" >&2
      return 1
    fi
    sleep "$pause"
    waited=$((waited + pause))
    pause=$(( pause < 8 ? pause * 2 : 8 ))
  done
}

if [[ ( "${K_MPI_JOB_ROLE:-}" == "launcher" || "${BERT_MPI_LAUNCHER:-}" == "1" ) && -r "$hostfile" ]]; then
  # Hostfile lines: "<host> slots=<n>" (Open MPI) or "<host>:<n>" (Intel MPI, MPICH).
  while read -r entry _ || [[ -n "$entry" ]]; do  # a last line without its newline too
    host=${entry%%:*}
    [[ -z "$host" || "$host" == \#* ]] && continue
    wait_for_host "$host"
  done < "$hostfile"
fi

if (( $# == 0 )); then
  exec /bin/bash
fi
exec "$@"
