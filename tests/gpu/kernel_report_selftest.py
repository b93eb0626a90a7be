#!/usr/bin/env python3
"""Proves the kernel report reads what it claims and can fail: on a small synthetic source tree,
ptxas report, PTX and (through a stand-in cuobjdump) SASS, the clean case must pass with the
expected cells, and each broken rule (a kernel without MVIT_LAUNCH_BOUNDS, bounds that are not
literals, a raw __launch_bounds__, a kernel of the code that no declaration names, a kernel missing
from the ptxas report, a launch whose literal block disagrees with the bounds, two declarations
with different bounds) must make it exit 1 naming the problem.
Usage: kernel_report_selftest.py <kernel_report.py> <mvit-occupancy>"""
import importlib.util
import os
import subprocess
import sys
import tempfile

script, occupancy = sys.argv[1], sys.argv[2]
sys.dont_write_bytecode = True  # importing the script must leave no __pycache__ in the source tree
spec = importlib.util.spec_from_file_location("kernel_report", script)
kr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kr)

SOURCE = r'''// A comment naming __global__ void commented_kernel( is no declaration.
#include "kernels/common/launch.cuh"
namespace mvit {
template <class T, int kVec>
__global__ void MVIT_LAUNCH_BOUNDS(256)
    vec_kernel(const T* x, T* y) {
  y[threadIdx.x] = x[threadIdx.x];
}
__global__ void MVIT_LAUNCH_BOUNDS(128, 2) dyn_kernel(float* y, int n) {
  MVIT_DYNAMIC_SHARED(float, row);
  row[threadIdx.x] = y[threadIdx.x];
}
__global__ void MVIT_LAUNCH_BOUNDS(64) lit_kernel(float* y) {
  MVIT_DYNAMIC_SHARED(float, row);
  y[0] = row[0];
}
namespace {
__global__ void MVIT_LAUNCH_BOUNDS(32) ns_kernel() {}
}  // namespace
void launch_all(const float* x, float* y, int n, int g, cudaStream_t s) {
  const char* text = "mvit::launch(lit_kernel, 1, 1, 0, s, y);";  // a string, not a launch
  mvit::launch(vec_kernel<float, 4>, dim3(g), dim3(256), 0, s, x, y);
  mvit::launch(dyn_kernel, dim3(g), dim3(128), n * sizeof(float), s, y, n);
  mvit::launch(lit_kernel, 1, 64, 40960, s, y);
  mvit::launch(ns_kernel, 1, 32, 0, s);
}
}  // namespace mvit
'''

VEC = "_ZN4mvit10vec_kernelIfLi4EEEvPKT_PS1_"
DYN = "_ZN4mvit10dyn_kernelEPfi"
LIT = "_ZN4mvit10lit_kernelEPf"
NS = "_ZN4mvit12_GLOBAL__N_19ns_kernelEv"
GHOST = "_ZN4mvit12ghost_kernelEv"
TEST_ONLY = "_Z11test_kernelv"  # a kernel of tests/: in the ptxas report, not in the libraries

PTX_HEAD = ".version 9.0\n.target sm_90\n.address_size 64\n\n"
PTX_BODIES = {
    VEC: """.visible .entry %s(
	.param .u64 %s_param_0
)
.maxntid 256, 1, 1
{
	.reg .b32 %%r<4>;
	{
	.reg .b32 temp;
	}
	call.uni (retval0),
	_ZN4mvit6helperEv,
	(
	param0
	);
	st.global.v2.f64 	[%%rd2], {%%fd1, %%fd2};
	ret;
}
""",
    DYN: """.visible .entry %s(
	.param .u64 %s_param_0
)
{
	ld.global.v2.f32 	{%%f1, %%f2}, [%%rd1];
	ld.shared.v4.f32 	{%%f1, %%f2, %%f3, %%f4}, [%%rd1];
	st.global.L1::no_allocate.v4.b32 	[%%rd2], {%%r1, %%r2, %%r3, %%r4};
	ret;
}
""",
    LIT: """.visible .entry %s(
	.param .u64 %s_param_0
)
{
	ld.global.nc.L2::128B.b128 	%%rq1, [%%rd1];
	st.global.v2.u32 	[%%rd2], {%%r1, %%r2};
	ret;
}
""",
    NS: """.entry %s(
	.param .u64 %s_param_0
)
{
	ret;
}
""",
    GHOST: """.visible .entry %s(
	.param .u64 %s_param_0
)
{
	ret;
}
""",
}
PTX_HELPER = """.func  (.param .b32 func_retval0) _ZN4mvit6helperEv(
	.param .b64 _ZN4mvit6helperEv_param_0
)
{
	ld.global.nc.v4.f32 	{%f1, %f2, %f3, %f4}, [%rd1];
	st.global.f32 	[%rd1], %f1;
	ret;
}
"""

SASS = """
Fatbin elf code:
================
arch = sm_80
code version = [1,8]

	code for sm_80
		Function : %s
	/*0000*/                   LDG.E.128 R4, desc[UR4][R2.64] ;
		Function : %s
	/*0000*/                   LDG.E R4, desc[UR4][R2.64] ;

Fatbin elf code:
================
arch = sm_90
code version = [1,8]

	code for sm_90
		Function : %s
	/*0000*/                   LDG.E.128.CONSTANT R4, desc[UR4][R2.64] ;
	/*0010*/                   STG.E.64 desc[UR4][R6.64], R4 ;
		Function : %s
	/*0000*/                   LDG.E.64 R4, desc[UR4][R2.64] ;
	/*0010*/                   STG.E.128 desc[UR4][R6.64], R8 ;
		Function : %s
	/*0000*/                   EXIT ;
		Function : %s
	/*0000*/                   EXIT ;
""" % (VEC, DYN, VEC, DYN, LIT, NS)

# A stand-in cuobjdump: a library without PTX (so the report must fall back to SASS).
FAKE_CUOBJDUMP = r'''#!/usr/bin/env python3
import sys
if sys.argv[1] == "-ptx":
    print("Fatbin elf code:\n================\narch = sm_90\n")
elif sys.argv[1] == "-lelf":
    print("ELF file    1: libk.1.sm_80.cubin\nELF file    2: libk.2.sm_90.cubin")
elif sys.argv[1:4] == ["-sass", "-arch", "sm_90"]:  # the newest architecture only
    sys.stdout.write(open(sys.argv[0] + ".sass").read())
else:
    sys.exit(3)
'''


def ptxas_rows(kernels):
    regs = {VEC: 32, DYN: 128, LIT: 32, NS: 8, GHOST: 16, TEST_ONLY: 16}
    lines = ["kernel\tarch\tregisters\tsmem_bytes\tstack_bytes\tspill_stores\tspill_loads"]
    for k in kernels:
        for arch in ("sm_80", "sm_90"):
            lines.append(f"{k}\t{arch}\t{regs[k]}\t0\t0\t0\t0")
    return "\n".join(lines) + "\n"


def run(d, source=SOURCE, extra_sources=None, entries=(VEC, DYN, LIT, NS),
        ptxas=(VEC, DYN, LIT, NS, TEST_ONLY), sass=False):
    """Writes one synthetic case into d, runs the report; (exit status, output, markdown)."""
    os.makedirs(os.path.join(d, "kernels"), exist_ok=True)
    with open(os.path.join(d, "kernels", "k.cu"), "w") as f:
        f.write(source)
    for name, text in (extra_sources or {}).items():
        with open(os.path.join(d, "kernels", name), "w") as f:
            f.write(text)
    with open(os.path.join(d, "ptxas_report.tsv"), "w") as f:
        f.write(ptxas_rows(ptxas))
    code = []
    if sass:
        fake = os.path.join(d, "cuobjdump")
        with open(fake, "w") as f:
            f.write(FAKE_CUOBJDUMP)
        os.chmod(fake, 0o755)
        with open(fake + ".sass", "w") as f:
            f.write(SASS)
        code = ["--cuobjdump", fake, "--libraries", os.path.join(d, "libk.a")]
    else:
        with open(os.path.join(d, "k.ptx"), "w") as f:
            f.write(PTX_HEAD + PTX_HELPER + "".join(PTX_BODIES[e] % (e, e) for e in entries))
        code = ["--ptx", os.path.join(d, "k.ptx")]
    md = os.path.join(d, "report.md")
    out = subprocess.run([sys.executable, script, "--ptxas-report",
                          os.path.join(d, "ptxas_report.tsv"), "--source-root", d] + code +
                         ["--occupancy", occupancy, "--md", md, "--tsv",
                          os.path.join(d, "report.tsv")], capture_output=True, text=True)
    text = open(md).read() if os.path.exists(md) else ""
    return out.returncode, out.stdout + out.stderr, text


def row(md, name):
    for line in md.splitlines():
        if line.startswith(f"| `{name}"):
            return [c.strip() for c in line.strip("|").split("|")]
    return None


failures = []
checks = 0


def expect(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


# Pieces.
expect(kr.function_name("void mvit::k<float, (mvit::Activation)1>(float const*, int)") ==
       ("mvit::k<float, (mvit::Activation)1>", "k"), "function_name of a template instance")
expect(kr.function_name("mvit::(anonymous namespace)::k(float*)") ==
       ("mvit::(anonymous namespace)::k", "k"), "function_name in an anonymous namespace")
expect(kr.ptx_width(".global.nc.v4.f32") == 128 and kr.ptx_width(".global.v2.u64") == 128 and
       kr.ptx_width(".global.v2.f32") == 64 and kr.ptx_width(".shared.v4.f32") == 0,
       "ptx_width of v4.f32, v2.u64, v2.f32, shared")
expect(kr.literal_threads("dim3(32, 8)") == 256 and kr.literal_threads("kThreads") is None,
       "literal_threads")
# A kernel launched through a pointer variable: no launch names it, its body says dynamic smem.
decls = kr.parse_declarations(kr.strip_comments(
    "__global__ void MVIT_LAUNCH_BOUNDS(64) a(float* y) { MVIT_DYNAMIC_SHARED(float, r); }\n"
    "__global__ void MVIT_LAUNCH_BOUNDS(64) b(float* y) { y[0] = 0; }\n"), "k.cu")
expect([kr.dynamic_smem(x, []) for x in decls] == ["launch-dependent", "none"],
       "dynamic smem from the kernel body when no launch names the kernel")

with tempfile.TemporaryDirectory() as d:
    rc, out, md = run(d)
    expect(rc == 0, f"the clean case failed:\n{out}")
    # kernel, source, block, regs, static smem, dynamic smem, spills, ld, st, occ sm_80, occ sm_90
    vec, dyn, lit, ns = (row(md, n) for n in ("vec_kernel<float, 4>", "dyn_kernel", "lit_kernel",
                                              "ns_kernel"))
    expect(vec and vec[2:9] == ["256", "32/32", "0", "none", "0", "yes", "yes"] and
           vec[9] == "100% (8 blk)", f"vec_kernel row (ld through its callee): {vec}")
    expect(dyn and dyn[2] == "128, 2" and dyn[5] == "launch-dependent" and dyn[7:9] == ["no", "yes"]
           and dyn[9] == "25% (4 blk) regs †", f"dyn_kernel row: {dyn}")
    expect(lit and lit[5] == "40960" and lit[7:9] == ["yes", "no"] and
           lit[9] == "12.5% (4 blk) smem" and lit[10] == "15.6% (5 blk) smem",
           f"lit_kernel row (literal dynamic smem in the occupancy): {lit}")
    expect(ns and ns[9] == "50% (32 blk) blocks", f"ns_kernel row: {ns}")
    expect("commented_kernel" not in md and "test_kernel" not in md.split("\n\n")[0],
           "a commented-out or test-only kernel reached the table")
    expect("1 kernels of the ptxas report are not in the libraries" in md,
           "the test-only kernel is not reported as left out")

with tempfile.TemporaryDirectory() as d:
    rc, out, md = run(d, sass=True)
    vec, dyn = row(md, "vec_kernel<float, 4>"), row(md, "dyn_kernel")
    expect(rc == 0 and "SASS sm_90" in md, f"the SASS fallback failed or was not named:\n{out}")
    expect(vec and vec[7:9] == ["yes", "no"] and dyn and dyn[7:9] == ["no", "yes"],
           f"SASS rows (sm_90, the newest, not sm_80): {vec} {dyn}")

broken = {
    "no bounds": (SOURCE.replace("MVIT_LAUNCH_BOUNDS(32) ns_kernel", "ns_kernel"),
                  "kernel ns_kernel has no MVIT_LAUNCH_BOUNDS"),
    "non-literal bounds": (SOURCE.replace("MVIT_LAUNCH_BOUNDS(64)", "MVIT_LAUNCH_BOUNDS(kThreads)"),
                           "MVIT_LAUNCH_BOUNDS(kThreads) does not take integer literals"),
    "raw bounds": (SOURCE.replace("MVIT_LAUNCH_BOUNDS(64)", "__launch_bounds__(64)"),
                   "raw __launch_bounds__"),
    "block mismatch": (SOURCE.replace("dim3(g), dim3(256)", "dim3(g), dim3(128)"),
                       "launches vec_kernel with 128 threads, its MVIT_LAUNCH_BOUNDS says 256"),
}
for what, (source, message) in broken.items():
    with tempfile.TemporaryDirectory() as d:
        rc, out, _ = run(d, source=source)
        expect(rc == 1 and message in out,
               f"{what}: expected exit 1 and '{message}', got {rc}:\n{out}")

with tempfile.TemporaryDirectory() as d:
    rc, out, _ = run(d, entries=(VEC, DYN, LIT, NS, GHOST), ptxas=(VEC, DYN, LIT, NS, GHOST))
    expect(rc == 1 and "mvit::ghost_kernel(): no `__global__ ... ghost_kernel(` declaration" in out,
           f"an undeclared kernel was accepted:\n{out}")
with tempfile.TemporaryDirectory() as d:
    rc, out, _ = run(d, ptxas=(VEC, DYN, LIT))
    expect(rc == 1 and "ns_kernel(): in the libraries but not in" in out,
           f"a kernel missing from the ptxas report was accepted:\n{out}")
with tempfile.TemporaryDirectory() as d:
    other = "__global__ void MVIT_LAUNCH_BOUNDS(512) dyn_kernel(float* y, int n);\n"
    rc, out, _ = run(d, extra_sources={"other.cuh": other})
    expect(rc == 1 and "dyn_kernel: declared with different MVIT_LAUNCH_BOUNDS" in out,
           f"conflicting bounds were accepted:\n{out}")

for f in failures:
    print("FAIL:", f)
print(f"{checks - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
