#!/bin/sh
# Entrypoint of the lia-dask image: one image for the scheduler, the workers and the job.
#
#   scheduler [dask scheduler options]   e.g. scheduler --port 8786 --dashboard-address :8787
#   worker    [dask worker options]      e.g. worker tcp://scheduler:8786 --nthreads 4 --memory-limit 16GiB
#   job       [lia-dask arguments]       e.g. job --cluster tcp://scheduler:8786 predict s3://b/ogle4 --model ... --out ...
#   dask-scheduler | dask-worker ...     the old script names used by dask-kubernetes examples (mapped to `dask ...`)
#   anything else                        executed as given (dask ..., lia-dask ..., python ..., sh)
#
# `exec` replaces this shell, so SIGTERM from Kubernetes / SLURM reaches Dask directly and the
# worker retires gracefully (its tasks are rescheduled; finished prediction parts stay done).
set -eu

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

if [ "$#" -eq 0 ]; then
    usage
    exit 0
fi
cmd="$1"
shift
case "$cmd" in
    scheduler | dask-scheduler) exec dask scheduler "$@" ;;
    worker | dask-worker) exec dask worker "$@" ;;
    job) exec lia-dask "$@" ;;
    help | --help | -h) usage ;;
    *) exec "$cmd" "$@" ;;
esac
