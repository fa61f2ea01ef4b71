// The launcher's environment variables (mpirun, mpiexec, srun): how many processes it started,
// and where this one stands among them. Read before any communicator exists (to choose one, to
// pick a GPU, to name the rank in an early error), so they live below the communicators.
#pragma once

#include <string>

namespace bert {

// The number of processes the launcher started, from OMPI_COMM_WORLD_SIZE (Open MPI),
// PMI_SIZE (MPICH/Hydra) or PMIX_SIZE; 1 when none is set (a plain launch), -1 when only
// PMIX_RANK says that a PMIx launcher is present without a size.
int launcher_world_size();
// True when any of those variables (or PMIX_RANK) is set, even for a single process.
bool launched_by_mpi();
// This process's rank among all the launcher started, from OMPI_COMM_WORLD_RANK (Open MPI),
// PMI_RANK (MPICH/Hydra) or PMIX_RANK; -1 when none is set. BertError when malformed. Before a
// communicator exists (a bad command line), it names the rank in an error line.
int launcher_rank();
// "rank R: " under a launcher of several processes (or of unknown size: a PMIx launch without
// one), for the start of a line that must say which rank wrote it, as the communicator's own
// messages do (mpirun prints every rank's lines mixed); "" otherwise, and when a variable is
// malformed (reported where it is used).
std::string launcher_rank_prefix();
// This process's index among the ranks on its node, from the launcher: OMPI_COMM_WORLD_LOCAL_RANK
// (Open MPI), MPI_LOCALRANKID (MPICH/Hydra), MV2_COMM_WORLD_LOCAL_RANK (MVAPICH), SLURM_LOCALID
// (srun), PMIX_LOCAL_RANK or PMI_LOCAL_RANK; 0 when none is set. BertError when malformed.
// The app selects its GPU with it BEFORE creating the CUDA backend (whose stream and buffers
// belong to the device current at creation): cudaSetDevice(local_rank % device_count), which
// select_local_cuda_device() in comm/nccl_communicator.h does.
int local_rank_from_launcher();
// How many ranks the launcher started on this node, from OMPI_COMM_WORLD_LOCAL_SIZE (Open MPI),
// MPI_LOCALNRANKS (MPICH/Hydra), MV2_COMM_WORLD_LOCAL_SIZE (MVAPICH) or PMIX_LOCAL_SIZE; 1 when
// none is set. BertError when malformed. The ranks of a node share its cores for host work
// (each builds the training windows).
int local_size_from_launcher();

}  // namespace bert
