# Sourced by run_app and run_tests: make .venv and install into it, again only when what it
# installs changed.  Usage: ensure_venv <pip install arguments...>
ensure_venv() {
  local digest stamp
  digest=$(cat setup.py pyproject.toml requirements*.txt | sha1sum | cut -c1-12)
  stamp=".venv/.installed-$(echo "$*" | tr -c 'a-z0-9' '_')-$digest"
  if [[ ! -f "$stamp" ]]; then
    echo "Installing into .venv: $* ..."
    [[ -x .venv/bin/python ]] || python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check "$@"
    touch "$stamp"
  fi
}
