#!/usr/bin/env bash
# 部门 CI 步骤 (department CI step) — docs/kpi.md "部门 CI".
#
# 校验一个部门新增或修改的系统清单, 展示其租户 (政务云上将创建的资源) 与 等保/密评 合规发现,
# 存在阻断发现时失败。部门自己的 CI 流水线可直接调用:
#
#   scripts/department-ci.sh [--root DIR] [--fail-on low|medium|high|critical] [--no-plan] [MANIFEST...]
#
#   MANIFEST   变更的清单 (可以在 systems/ 之内或之外); 省略时取 systems/ 下相对
#              "${XZGOV_CI_BASE:-origin/main}" 新增、修改、改名或移动的 *.yaml / *.yml (git diff; 基线不存在或
#              git 失败时退出码 2, 从不按"无变更"通过)
#   --root     仓库根目录 (region.yaml、systems/), 默认当前目录
#   --fail-on  阻断阈值, 默认 high (与 xzgov scan 相同)
#   --no-plan  不展示租户 (离线计划约需半分钟)
#   XZGOV      xzgov 命令 (默认: PATH 中的 xzgov, 或 ROOT/.venv/bin/xzgov)
#
# 步骤: 1 校验 (xzgov validate, 错误带 文件:行:列)  2 在临时副本中登记 (xzgov onboard; 仓库不被修改)
#       3 租户: 每个站点将为该系统创建的资源 (xzgov plan)  4 合规扫描 (xzgov scan --system, 静态)
# 退出码: 0 通过; 1 清单无效或存在达到阈值的未豁免发现; 2 用法错误或环境问题。
set -euo pipefail

root=.
fail_on=high
plan=1
manifests=()
value() {  # the value of option $1 ($2 on): a usage error (2) when it is missing
  if [ "$2" -lt 2 ]; then echo "department-ci: $1 needs a value" >&2; exit 2; fi
}
while [ $# -gt 0 ]; do
  case "$1" in
    --root) value "$1" $#; root=$2; shift 2 ;;
    --fail-on) value "$1" $#; fail_on=$2; shift 2 ;;
    --no-plan) plan=0; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; manifests+=("$@"); break ;;
    -*) echo "department-ci: unknown option $1" >&2; exit 2 ;;
    *) manifests+=("$1"); shift ;;
  esac
done

if [ -z "${XZGOV:-}" ]; then
  if command -v xzgov >/dev/null 2>&1; then XZGOV=xzgov
  elif [ -x "$root/.venv/bin/xzgov" ]; then XZGOV="$root/.venv/bin/xzgov"
  else echo "department-ci: xzgov not found (set XZGOV or install the project)" >&2; exit 2
  fi
fi
PY=${PYTHON:-python3}

if [ ${#manifests[@]} -eq 0 ]; then
  base=${XZGOV_CI_BASE:-origin/main}
  # Every failure here is exit 2, never "nothing changed": an unreadable root, no repository, a base the checkout
  # lacks (a shallow or single-branch clone), a failing git. Renamed and moved files count as added (--no-renames:
  # a rename was skipped), deleted ones are left out; *.yml too (the register reads both); paths relative to the
  # root, which may be a folder of a larger repository (--relative).
  if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "department-ci: $root is not a git work tree: name the manifests to check (MANIFEST...)" >&2; exit 2
  fi
  if ! git -C "$root" rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
    echo "department-ci: base $base not found in this checkout: fetch it (git fetch origin main; a shallow clone" \
      "needs its history) or set XZGOV_CI_BASE" >&2; exit 2
  fi
  if ! changed=$(git -C "$root" diff --name-only --relative --no-renames --diff-filter=d "$base" -- systems); then
    echo "department-ci: git diff against $base failed" >&2; exit 2
  fi
  manifests=()
  while IFS= read -r path; do
    case "$path" in *.yaml|*.yml) manifests+=("$root/$path") ;; esac
  done <<< "$changed"
  if [ ${#manifests[@]} -eq 0 ]; then
    echo "department-ci: 没有变更的系统清单 (相对 $base), 无需检查"
    exit 0
  fi
fi

echo "== 1/4 校验清单: ${manifests[*]}"
set +e
"$XZGOV" validate --root "$root" "${manifests[@]}"
code=$?
set -e
if [ $code -ne 0 ]; then
  echo "department-ci: 清单无效 (exit $code): 按上面的 文件:行:列 和提示修改后重试" >&2
  exit $code
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/xzgov-ci.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cp "$root/region.yaml" "$scratch/"
cp -R "$root/systems" "$scratch/systems"
for part in compliance/waivers compliance/attestations; do
  if [ -d "$root/$part" ]; then mkdir -p "$scratch/$part"; cp -R "$root/$part/." "$scratch/$part/"; fi
done
if [ -f "$root/compliance/config.yaml" ]; then mkdir -p "$scratch/compliance"; cp "$root/compliance/config.yaml" \
  "$scratch/compliance/"; fi
if [ -d "$root/standards" ]; then cp -R "$root/standards" "$scratch/standards"; fi

echo "== 2/4 在临时副本中登记 (仓库不被修改)"
names=()
filed=()  # name=path of each onboarded system in the copy (a plan warning may name either)
for manifest in "${manifests[@]}"; do
  out=$("$XZGOV" onboard --root "$scratch" --format json "$manifest")
  # one parse per answer: the name on the first line, the filed path (which may hold spaces) on the second
  parsed=$(printf '%s' "$out" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["onboarded"]); print(d["path"])')
  name=${parsed%%$'\n'*}
  path=${parsed#*$'\n'}
  echo "   $manifest → $name"
  names+=("$name")
  filed+=("$name=$path")
done

if [ $plan -eq 1 ]; then
  echo "== 3/4 租户: 各站点将为这些系统创建的资源"
  "$XZGOV" plan --root "$scratch" --format json > "$scratch/plan.json"
  "$PY" - "$scratch/plan.json" "${filed[@]}" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1], encoding="utf-8"))
for entry in sys.argv[2:]:
    name, _, path = entry.partition("=")
    for site in plan["sites"]:
        counts = site["systems"].get(name)
        if counts:
            listed = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
            print(f"   {name} @ {site['site']} ({site['role']}): {sum(counts.values())} 个资源: {listed}")
        for warning in site.get("warnings", []):  # about the system, or located in its manifest
            if warning.startswith((f"{name}:", f"{path}:")):
                print(f"   ! {site['site']}: {warning}")
PY
else
  echo "== 3/4 租户: 跳过 (--no-plan)"
fi

echo "== 4/4 合规扫描 (静态, --fail-on $fail_on)"
args=()
for name in "${names[@]}"; do args+=(--system "$name"); done
set +e
"$XZGOV" scan --root "$scratch" --fail-on "$fail_on" "${args[@]}"
code=$?
set -e
if [ $code -eq 1 ]; then
  echo "department-ci: 存在达到 $fail_on 的未豁免发现: 按上表整改, 或申请豁免 (compliance/waivers/)" >&2
elif [ $code -eq 0 ]; then
  echo "department-ci: 通过"
fi
exit $code
