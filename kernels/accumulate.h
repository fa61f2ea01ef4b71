// Whether an op's gradient output overwrites its buffer or adds into it.
#pragma once

namespace bert {
enum class Accumulate { kOverwrite, kAdd };
}
