#!/usr/bin/env python3
"""Per-kernel resource report of the cuda build: one row per kernel of kernels/ with its registers,
static shared memory and spills per architecture (ptxas), whether its code has 128-bit global loads
and stores, the block it is launched with, its dynamic shared memory, and its theoretical occupancy.

  kernel_report.py --ptxas-report build/ptxas_report.tsv --source-root . \\
      (--ptx FILE.ptx... | --cuobjdump cuobjdump --libraries LIB.a...) \\
      [--occupancy mvit-occupancy] --md kernel_report.md --tsv kernel_report.tsv

Where each column comes from:
  registers, smem, spills   the ptxas report (cmake/ptxas_report.py), one row per (kernel, arch)
  block                     N of the kernel's declaration
                            `__global__ void MVIT_LAUNCH_BOUNDS(N[, M]) name(` in kernels/
                            (project rule: N is the block its launcher uses); ptxas' mangled
                            names are demangled with c++filt and matched by their base name
  dynamic smem              "none" when the kernel declares no MVIT_DYNAMIC_SHARED and every
                            mvit::launch of it passes 0; the bytes when every launch passes the
                            same integer literal; otherwise "launch-dependent" (occupancy then
                            counts static shared memory only, and says so)
  128-bit ld / st           whether the kernel's PTX (its .entry and the .func it calls) has a
                            ld.global[.nc] / st.global of at least 128 bits (.v4 of 32-bit, .v2 of
                            64-bit elements, or wider). PTX from --ptx files, or from
                            `cuobjdump -ptx` of the libraries; a library without PTX falls back to
                            `cuobjdump -sass` (LDG.E.128 / STG.E.128) of its newest architecture.
                            The report names the code it read.
  occupancy                 active warps per SM / maximum warps per SM, from the toolkit's
                            cuda_occupancy.h (tools/kernel_report/occupancy.cpp) with the per-SM
                            limits of the CUDA C++ Programming Guide, at the kernel's block, for
                            every architecture in the report that the program knows (the table
                            shows sm_80 and sm_90)

Exits 1 (after writing the report) when a __global__ kernel in kernels/ has no MVIT_LAUNCH_BOUNDS
with integer literals, when a kernel of the libraries cannot be matched to a source declaration
(or to declarations that disagree on the bounds), when a kernel of the libraries is missing from
the ptxas report for one of its architectures, or when an mvit::launch writes its block as
literals that disagree with the kernel's bounds. Kernels that the
ptxas report lists but the libraries do not contain (kernels of tests/, compiled into the same log
directory) are left out.
"""
import argparse
import collections
import glob
import os
import re
import shutil
import subprocess
import sys

SOURCE_DIRS = ["kernels"]
SOURCE_EXTS = (".cu", ".cuh", ".h", ".hpp", ".inl")
TABLE_ARCHS = ["sm_80", "sm_90"]  # occupancy columns of the Markdown table (the TSV has every arch)
TSV_FIELDS = ["kernel", "mangled", "source", "line", "arch", "block", "min_blocks", "registers",
              "static_smem_bytes", "stack_bytes", "spill_stores", "spill_loads", "dynamic_smem",
              "ld128", "st128", "vector_code", "active_blocks", "active_warps", "max_warps",
              "occupancy_pct", "limiters"]

Decl = collections.namedtuple("Decl", "name file line bounds min_blocks problem dynamic_smem")
Launch = collections.namedtuple("Launch", "name file line block smem")


# ---------------------------------------------------------------------------------------------
# Source: __global__ declarations and mvit::launch calls.

def strip_comments(text):
    """Comments and string/char literals replaced by spaces, newlines kept (line numbers hold)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'" and not (c == "'" and i > 0 and text[i - 1].isalnum()):  # 1'000 digits
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else " " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching(text, i, open_ch, close_ch):
    """Index just past the bracket that closes the one at text[i]; -1 if it is never closed."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_ch:
            depth += 1
        elif text[j] == close_ch:
            depth -= 1
            if depth == 0:
                return j + 1
    return -1


DECL = re.compile(r"__global__\s+(?:(?:static|inline|__forceinline__|__noinline__)\s+)*void\s+"
                  r"(?:(MVIT_LAUNCH_BOUNDS|__launch_bounds__)\s*\(([^()]*)\)\s*)?"
                  r"([A-Za-z_]\w*)\s*\(")
LITERAL_BOUNDS = re.compile(r"^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$")
LAUNCH = re.compile(r"(?:\bmvit::|(?<![\w:.>]))launch\s*\(")


def parse_declarations(text, path):
    decls = []
    for m in re.finditer(r"\b__global__\b", text):
        line = text.count("\n", 0, m.start()) + 1
        d = DECL.match(text, m.start())
        if not d:
            decls.append(Decl(None, path, line, None, None,
                              "cannot read the declaration after __global__ (expected "
                              "`__global__ void MVIT_LAUNCH_BOUNDS(N) name(`)", False))
            continue
        macro, args, name = d.group(1), d.group(2), d.group(3)
        bounds = min_blocks = None
        problem = None
        if macro is None:
            problem = "has no MVIT_LAUNCH_BOUNDS(N): the report reads the launch block from it"
        elif macro == "__launch_bounds__":
            problem = ("uses a raw __launch_bounds__; write MVIT_LAUNCH_BOUNDS "
                       "(kernels/common/launch.cuh)")
        else:
            lit = LITERAL_BOUNDS.match(args)
            if not lit:
                problem = f"MVIT_LAUNCH_BOUNDS({args.strip()}) does not take integer literals"
            else:
                bounds = int(lit.group(1))
                min_blocks = int(lit.group(2)) if lit.group(2) else None
                if not 1 <= bounds <= 1024:
                    problem = f"MVIT_LAUNCH_BOUNDS({bounds}) is not a block size (1..1024 threads)"
        # The body (a definition) or nothing (a declaration ending in ';').
        close = matching(text, d.end() - 1, "(", ")")
        body = ""
        if close > 0:
            rest = text[close:]
            brace = re.match(r"\s*\{", rest)
            if brace:
                start = close + brace.end() - 1
                end = matching(text, start, "{", "}")
                body = text[start:end if end > 0 else len(text)]
        decls.append(Decl(name, path, line, bounds, min_blocks, problem,
                          "MVIT_DYNAMIC_SHARED" in body))
    return decls


KERNEL_ARG = re.compile(r"\s*&?\s*((?:\w+::)*\w+)\s*")


def split_arguments(text, start):
    """The arguments of the call whose '(' is text[start], split at top-level commas; None when
    the first one is not a (possibly qualified, possibly templated) name or the call never closes.
    The first argument keeps only its name: template arguments may hold commas."""
    m = KERNEL_ARG.match(text, start + 1)
    if not m:
        return None
    i = m.end()
    if text[i:i + 1] == "<":
        i = matching(text, i, "<", ">")
        if i < 0:
            return None
    comma = re.compile(r"\s*,").match(text, i)
    if not comma:
        return None
    args, depth, cur = [m.group(1)], 0, []
    for c in text[comma.end():]:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append("".join(cur).strip())
                return args
            depth -= 1
        elif c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            continue
        cur.append(c)
    return None


def parse_launches(text, path):
    launches = []
    for m in LAUNCH.finditer(text):
        args = split_arguments(text, m.end() - 1)
        if not args or len(args) < 5:
            continue  # not a kernel launch (or one this parser cannot read: no dynamic smem known)
        name = args[0].split("::")[-1]
        launches.append(Launch(name, path, text.count("\n", 0, m.start()) + 1, args[2], args[3]))
    return launches


def scan_sources(root, dirs=SOURCE_DIRS):
    decls, launches = [], []
    for d in dirs:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in sorted(files):
                if not f.endswith(SOURCE_EXTS):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    text = strip_comments(fh.read())
                decls.extend(parse_declarations(text, rel))
                if rel != os.path.join("kernels", "common", "launch.cuh"):
                    launches.extend(parse_launches(text, rel))
    return decls, launches


def literal_threads(block):
    """Threads of a block argument written as literals ("256", "dim3(32, 8)"); None otherwise."""
    m = re.match(r"^(?:dim3\s*\(\s*)?(\d+)\s*(?:,\s*(\d+)\s*)?(?:,\s*(\d+)\s*)?\)?$", block)
    if not m:
        return None
    threads = 1
    for g in m.groups():
        threads *= int(g) if g else 1
    return threads


def dynamic_smem(decl, launches):
    """'none', a byte count, or 'launch-dependent' (see the module comment)."""
    values = set()
    for launch in launches:
        lit = re.match(r"^\(?\s*(\d+)\s*[uUlL]*\s*\)?$", launch.smem)
        values.add(int(lit.group(1)) if lit else None)
    if None in values or len(values) > 1:
        return "launch-dependent"
    if values and max(values) > 0:
        return str(max(values))
    return "launch-dependent" if decl.dynamic_smem else "none"


# ---------------------------------------------------------------------------------------------
# Code: 128-bit global loads and stores per kernel, in PTX or SASS.

PTX_FUNC = re.compile(r"^\s*(?:\.visible\s+|\.weak\s+|\.extern\s+)*\.(entry|func)\s+"
                      r"(?:\([^)]*\)\s*)?([\w$.]+)", re.M)
PTX_MEM = re.compile(r"\b(ld|ldu|st)((?:\.[A-Za-z0-9_:]+)+)")
PTX_CALL = re.compile(r"\bcall(?:\.uni)?\s+(?:\([^)]*\)\s*,\s*)?([\w$.]+)")
SASS_FUNC = re.compile(r"^\s*Function\s*:\s*(\S+)", re.M)
SASS_MEM = re.compile(r"\b(LDG|STG)((?:\.[A-Z0-9_]+)+)")
ARCH_LINE = re.compile(r"^\s*arch\s*=\s*(sm_\d+a?)\s*$", re.M)


def ptx_width(quals):
    """Bits one ld/st moves, from its qualifiers (.v4, .b32...); 0 unless it is a global access."""
    parts = quals.split(".")[1:]
    if "global" not in parts:
        return 0
    vec, bits = 1, 0
    for p in parts:
        if re.fullmatch(r"v[248]", p):
            vec = int(p[1:])
        t = re.fullmatch(r"[bufs](8|16|32|64|128)", p)
        if t:
            bits = int(t.group(1))
    return vec * bits


def ptx_functions(ptx):
    """{name: (kind, body)} of every .entry and .func with a body in one PTX text."""
    funcs = {}
    for m in PTX_FUNC.finditer(ptx):
        i = m.end()
        # Parameters, then performance directives (.maxntid ...), then '{' or ';' (a prototype).
        depth = 0
        while i < len(ptx):
            c = ptx[i]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif depth == 0 and c in "{;":
                break
            i += 1
        if i >= len(ptx) or ptx[i] == ";":
            continue
        end = matching(ptx, i, "{", "}")
        funcs[m.group(2)] = (m.group(1), ptx[i:end if end > 0 else len(ptx)])
    return funcs


def ptx_vector_access(ptx):
    """{entry: (ld128, st128)}, following calls into .func bodies of the same module."""
    funcs = ptx_functions(ptx)
    direct = {}
    for name, (_, body) in funcs.items():
        ld = st = False
        for m in PTX_MEM.finditer(body):
            if ptx_width(m.group(2)) >= 128:
                if m.group(1) == "st":
                    st = True
                else:
                    ld = True
        direct[name] = (ld, st, set(PTX_CALL.findall(body)))
    result = {}
    for name, (kind, _) in funcs.items():
        if kind != "entry":
            continue
        seen, stack, ld, st = set(), [name], False, False
        while stack:
            f = stack.pop()
            if f in seen or f not in direct:
                continue
            seen.add(f)
            fl, fs, calls = direct[f]
            ld, st = ld or fl, st or fs
            stack.extend(calls)
        result[name] = (ld, st)
    return result


def sass_vector_access(sass):
    result = {}
    starts = list(SASS_FUNC.finditer(sass))
    for k, m in enumerate(starts):
        body = sass[m.end():starts[k + 1].start() if k + 1 < len(starts) else len(sass)]
        ld = st = False
        for a in SASS_MEM.finditer(body):
            quals = a.group(2).split(".")[1:]
            if "128" in quals or "256" in quals:
                if a.group(1) == "STG":
                    st = True
                else:
                    ld = True
        result[m.group(1)] = (ld, st)
    return result


def by_arch(dump):
    """A cuobjdump listing split at its 'arch = sm_XX' lines: {arch: text}."""
    marks = list(ARCH_LINE.finditer(dump))
    parts = collections.defaultdict(str)
    for k, m in enumerate(marks):
        parts[m.group(1)] += dump[m.end():marks[k + 1].start() if k + 1 < len(marks) else len(dump)]
    return parts


def arch_number(arch):
    return int(re.sub(r"\D", "", arch) or 0)


def merge(into, found):
    for k, (ld, st) in found.items():
        old = into.get(k, (False, False))
        into[k] = (old[0] or ld, old[1] or st)


def vector_access_from_ptx_files(files):
    access, archs = {}, set()
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        target = re.search(r"^\s*\.target\s+(sm_\d+a?)", text, re.M)
        archs.add("compute_" + target.group(1)[3:] if target else "PTX")
        merge(access, ptx_vector_access(text))
    return access, "PTX " + "/".join(sorted(archs)) + " (compiled from the libraries' sources)"


def cuobjdump_listing(cuobjdump, flags, lib):
    """cuobjdump's output for one library, or None when it holds no device code."""
    out = subprocess.run([cuobjdump] + flags + [lib], capture_output=True, text=True)
    if out.returncode != 0:
        if "does not contain device code" in out.stderr:
            return None
        raise SystemExit(f"FAIL: {cuobjdump} {' '.join(flags)} {lib} failed: "
                         f"{out.stderr.strip() or out.stdout.strip()[-400:]}")
    return out.stdout


def vector_access_from_libraries(cuobjdump, libraries):
    """PTX of the newest architecture each library embeds; SASS (needs nvdisasm) without PTX."""
    access, used = {}, set()
    for lib in libraries:
        ptx = cuobjdump_listing(cuobjdump, ["-ptx"], lib)
        if ptx is None:
            continue
        parts = {a: t for a, t in by_arch(ptx).items() if ".entry" in t}
        if parts:
            arch = max(parts, key=arch_number)
            merge(access, ptx_vector_access(parts[arch]))
            used.add("PTX compute_" + arch[3:])
            continue
        # Disassemble the newest architecture only (nvdisasm is slow): -lelf names the cubins.
        elves = cuobjdump_listing(cuobjdump, ["-lelf"], lib) or ""
        cubins = re.findall(r"\.(sm_\d+a?)\.cubin", elves)
        if not cubins:
            continue
        sass = cuobjdump_listing(cuobjdump, ["-sass", "-arch", max(cubins, key=arch_number)], lib)
        parts = {a: t for a, t in by_arch(sass or "").items() if SASS_FUNC.search(t)}
        if parts:
            arch = max(parts, key=arch_number)
            merge(access, sass_vector_access(parts[arch]))
            used.add("SASS " + arch)
    return access, " + ".join(sorted(used)) + " (cuobjdump of the libraries)"


# ---------------------------------------------------------------------------------------------
# Names: demangling, base names.

def demangle(names):
    names = list(names)
    if not names:
        return {}
    tool = shutil.which("c++filt")
    if tool is None:
        raise SystemExit("FAIL: c++filt (binutils) is needed to demangle kernel names")
    out = subprocess.run([tool], input="\n".join(names) + "\n", capture_output=True, text=True,
                         check=True).stdout.splitlines()
    if len(out) != len(names):
        raise SystemExit("FAIL: c++filt answered a different number of names")
    return dict(zip(names, out))


def function_name(demangled):
    """'void mvit::k<float, 4>(float const*)' -> ('mvit::k<float, 4>', 'k')."""
    s = demangled.replace("(anonymous namespace)", "{anonymous}")
    depth, cut = 0, len(s)
    for i, c in enumerate(s):
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "(" and depth == 0:
            cut = i
            break
    head = s[:cut].strip()
    # Drop a return type (templates have one): the last space at template depth 0.
    depth, start = 0, 0
    for i, c in enumerate(head):
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == " " and depth == 0:
            start = i + 1
    qualified = head[start:]
    base = qualified
    if base.endswith(">"):
        depth = 0
        for i in range(len(base) - 1, -1, -1):
            if base[i] == ">":
                depth += 1
            elif base[i] == "<":
                depth -= 1
                if depth == 0:
                    base = base[:i]
                    break
    return qualified.replace("{anonymous}", "(anonymous namespace)"), base.split("::")[-1]


# ---------------------------------------------------------------------------------------------
# Occupancy.

def occupancy(tool, queries):
    """queries: [(cc, regs, static smem, dynamic smem, threads)] -> [dict or None]."""
    if not tool or not queries:
        return [None] * len(queries)
    text = "".join(" ".join(str(v) for v in q) + "\n" for q in queries)
    out = subprocess.run([tool], input=text, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"FAIL: {tool} failed: {out.stderr.strip()}")
    answers = []
    for line in out.stdout.splitlines():
        f = line.split()
        if not f or f[0] == "error":
            answers.append({"error": line[6:]})
        else:
            blocks, warps, max_warps = int(f[0]), int(f[1]), int(f[2])
            answers.append({"blocks": blocks, "warps": warps, "max_warps": max_warps,
                            "pct": 100.0 * warps / max_warps, "limiters": f[3]})
    if len(answers) != len(queries):
        raise SystemExit(f"FAIL: {tool} answered {len(answers)} of {len(queries)} queries")
    return answers


def known_archs(tool):
    if not tool:
        return set()
    out = subprocess.run([tool, "--archs"], capture_output=True, text=True, check=True).stdout
    return {"sm_" + line.split()[0] for line in out.splitlines() if line.strip()}


# ---------------------------------------------------------------------------------------------
# The report.

def read_ptxas_report(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines:
        raise SystemExit(f"FAIL: {path} is empty")
    header = lines[0].split("\t")
    need = {"kernel", "arch", "registers", "smem_bytes", "stack_bytes", "spill_stores",
            "spill_loads"}
    if not need <= set(header):
        raise SystemExit(f"FAIL: {path} lacks columns {sorted(need - set(header))}")
    rows = collections.defaultdict(dict)
    for line in lines[1:]:
        if line.strip():
            r = dict(zip(header, line.split("\t")))
            rows[r["kernel"]][r["arch"]] = r
    return rows


def percent(x):
    return f"{x:.0f}%" if abs(x - round(x)) < 0.05 else f"{x:.1f}%"


def occupancy_cell(o, flagged):
    if o is None:
        return "n/a"
    if "error" in o:
        return "error: " + o["error"]
    cell = f"{percent(o['pct'])} ({o['blocks']} blk)"
    if o["pct"] < 99.95 and o["limiters"] != "-":
        cell += " " + o["limiters"].replace("registers", "regs")
    return cell + (" †" if flagged else "")


def per_arch(values):
    """'32' when every arch agrees, else '40/32' in arch order."""
    return values[0] if len(set(values)) == 1 else "/".join(values)


def declaration_index(decls, launches, failures):
    """Declarations and launches by kernel name; every broken declaration goes to failures."""
    by_name, launches_of = collections.defaultdict(list), collections.defaultdict(list)
    for d in decls:
        if d.problem:
            who = f"kernel {d.name}" if d.name else "a kernel"
            failures.append(f"{d.file}:{d.line}: {who} {d.problem}")
        if d.name:
            by_name[d.name].append(d)
    for launch in launches:
        launches_of[launch.name].append(launch)
    return by_name, launches_of


def match_kernel(mangled, demangled, by_name, launches_of, ptxas, archs, failures, report):
    """The report entry of one kernel of the libraries, or None (its problem in failures)."""
    qualified, base = function_name(demangled)
    found = by_name.get(base, [])
    if not found:
        failures.append(f"{demangled}: no `__global__ ... {base}(` declaration in "
                        f"{', '.join(SOURCE_DIRS)}/ (ptxas: {mangled})")
        return None
    if any(d.problem for d in found):
        return None  # reported with the declaration
    if len({(d.bounds, d.min_blocks) for d in found}) != 1:
        places = ", ".join(f"{d.file}:{d.line}" for d in found)
        failures.append(f"{base}: declared with different MVIT_LAUNCH_BOUNDS at {places}")
        return None
    missing = [a for a in archs if a not in ptxas.get(mangled, {})]
    if missing:
        failures.append(f"{demangled}: in the libraries but not in {report} for "
                        f"{', '.join(missing)}")
        if len(missing) == len(archs):
            return None
    decl = found[0]
    for launch in launches_of[base]:
        threads = literal_threads(launch.block)
        if threads is not None and threads != decl.bounds:
            failures.append(f"{launch.file}:{launch.line}: launches {base} with {threads} "
                            f"threads, its MVIT_LAUNCH_BOUNDS says {decl.bounds}")
    return {"mangled": mangled, "qualified": qualified, "decl": decl,
            "dynamic": dynamic_smem(decl, launches_of[base])}


def occupancies(tool, kernels, ptxas, archs):
    """{(mangled, arch): answer} for every arch the occupancy program knows."""
    known = known_archs(tool)
    queries, slots = [], []
    for k in kernels:
        dyn = int(k["dynamic"]) if k["dynamic"].isdigit() else 0
        for arch in archs:
            r = ptxas[k["mangled"]].get(arch)
            if r and arch in known:
                queries.append((arch_number(arch), r["registers"], r["smem_bytes"], dyn,
                                k["decl"].bounds))
                slots.append((k["mangled"], arch))
    return dict(zip(slots, occupancy(tool, queries)))


def build(args):
    failures = []
    by_name, launches_of = declaration_index(*scan_sources(args.source_root), failures)
    if args.ptx:
        access, code = vector_access_from_ptx_files(args.ptx)
    else:
        access, code = vector_access_from_libraries(args.cuobjdump, args.libraries)
    if not access:
        failures.append(f"no kernel found in the libraries' code ({code})")
    ptxas = read_ptxas_report(args.ptxas_report)
    names = demangle(access)
    archs = sorted({a for k in access for a in ptxas.get(k, {})}, key=arch_number)
    kernels = []
    for mangled in access:
        k = match_kernel(mangled, names[mangled], by_name, launches_of, ptxas, archs, failures,
                         args.ptxas_report)
        if k:
            k["ld128"], k["st128"] = access[mangled]
            kernels.append(k)
    kernels.sort(key=lambda k: (k["decl"].file, k["decl"].line, k["qualified"]))
    occ = occupancies(args.occupancy, kernels, ptxas, archs)

    write_tsv(args.tsv, kernels, ptxas, archs, occ, code)
    md = markdown(kernels, ptxas, archs, occ, code, sorted(set(ptxas) - set(access)))
    with open(args.md, "w", encoding="utf-8") as f:
        f.write(md)
    print(md)
    failures = list(dict.fromkeys(failures))  # one line per problem, not per template instance
    for msg in failures:
        print("FAIL:", msg)
    print(f"kernel_report: {len(kernels)} kernels, {len(failures)} problems -> {args.md}, "
          f"{args.tsv}")
    return 1 if failures else 0


def write_tsv(path, kernels, ptxas, archs, occ, code):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(TSV_FIELDS) + "\n")
        for k in kernels:
            d = k["decl"]
            for arch in archs:
                r = ptxas[k["mangled"]].get(arch)
                if not r:
                    continue
                o = occ.get((k["mangled"], arch)) or {}
                row = {"kernel": k["qualified"], "mangled": k["mangled"], "source": d.file,
                       "line": d.line, "arch": arch, "block": d.bounds,
                       "min_blocks": d.min_blocks or "", "registers": r["registers"],
                       "static_smem_bytes": r["smem_bytes"], "stack_bytes": r["stack_bytes"],
                       "spill_stores": r["spill_stores"], "spill_loads": r["spill_loads"],
                       "dynamic_smem": k["dynamic"], "ld128": "yes" if k["ld128"] else "no",
                       "st128": "yes" if k["st128"] else "no", "vector_code": code,
                       "active_blocks": o.get("blocks", ""), "active_warps": o.get("warps", ""),
                       "max_warps": o.get("max_warps", ""),
                       "occupancy_pct": f"{o['pct']:.1f}" if "pct" in o else "",
                       "limiters": o.get("limiters", o.get("error", ""))}
                f.write("\t".join(str(row[c]) for c in TSV_FIELDS) + "\n")


def markdown(kernels, ptxas, archs, occ, code, left_out):
    arch_list = "/".join(a[3:] for a in archs)
    head = ["kernel", "source", "block", f"regs (sm_{arch_list})", "static smem (B)",
            "dynamic smem", "spills (B st/ld)", "128-bit ld", "128-bit st"]
    head += [f"occupancy {a}" for a in TABLE_ARCHS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    flagged_any = False
    for k in kernels:
        rows = [ptxas[k["mangled"]][a] for a in archs if a in ptxas[k["mangled"]]]
        spills = [f"{a} {r['spill_stores']}/{r['spill_loads']}" for a, r in
                  ((a, ptxas[k["mangled"]].get(a)) for a in archs) if r and
                  (r["spill_stores"] != "0" or r["spill_loads"] != "0")]
        flagged = k["dynamic"] == "launch-dependent"
        block = str(k["decl"].bounds)
        if k["decl"].min_blocks:
            block += f", {k['decl'].min_blocks}"
        flagged_any |= flagged
        name = re.sub(r"^mvit::(demo::)?(\(anonymous namespace\)::)?", "", k["qualified"])
        cells = [f"`{name}`", f"{k['decl'].file.replace('kernels/', '', 1)}:{k['decl'].line}",
                 block,
                 "/".join(ptxas[k["mangled"]].get(a, {}).get("registers", "-") for a in archs),
                 per_arch([r["smem_bytes"] for r in rows]), k["dynamic"],
                 "; ".join(spills) or "0",
                 "yes" if k["ld128"] else "no", "yes" if k["st128"] else "no"]
        cells += [occupancy_cell(occ.get((k["mangled"], a)), flagged) if a in archs else "not built"
                  for a in TABLE_ARCHS]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        "",
        f"128-bit ld/st read from: {code}. Registers, shared memory and spills: ptxas -v. "
        "Occupancy: active warps / maximum warps per SM from cuda_occupancy.h at the block of "
        "MVIT_LAUNCH_BOUNDS (\"blk\": resident blocks per SM; the limiting resource when below "
        "100%).",
    ]
    if flagged_any:
        notes.append("† dynamic shared memory depends on the launch: occupancy counts static "
                     "shared memory only.")
    if left_out:
        notes.append(f"{len(left_out)} kernels of the ptxas report are not in the libraries "
                     "(test kernels) and are left out.")
    return "\n".join(lines + notes) + "\n"


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ptxas-report", required=True)
    p.add_argument("--source-root", required=True)
    p.add_argument("--ptx", nargs="+", help="PTX files of the libraries' sources")
    p.add_argument("--cuobjdump", help="cuobjdump, to read --libraries")
    p.add_argument("--libraries", nargs="+")
    p.add_argument("--occupancy", help="the mvit-occupancy program (occupancy.cpp)")
    p.add_argument("--md", required=True)
    p.add_argument("--tsv", required=True)
    args = p.parse_args(argv[1:])
    if bool(args.ptx) == bool(args.cuobjdump and args.libraries):
        p.error("give either --ptx FILES or --cuobjdump EXE --libraries LIBS")
    if args.ptx:
        # CMake's $<TARGET_OBJECTS> arrives as one ';'-separated argument.
        files = [f for arg in args.ptx for f in arg.split(";") if f]
        args.ptx = [f for pattern in files for f in (sorted(glob.glob(pattern)) or [pattern])]
    return build(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
