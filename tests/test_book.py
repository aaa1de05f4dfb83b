"""The book builds at the smoke profile, and headless Chromium shows every page, figure and claims table."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paperlib.analysis.claims import VERDICTS, dashboard_markdown
from paperlib.runner import ROOT, figures_dir

pytestmark = pytest.mark.slow
PAGES = ("intro", "reproducing", "reference_methods", "claims", "bibliography", "api/paperlib/index")


@pytest.fixture(scope="module")
def site(executed, tmp_path_factory) -> Path:
    """The HTML book built by jupyter-book from the smoke-profile notebooks: the ``_build/html`` folder."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(ROOT / "book", site / "book", ignore=shutil.ignore_patterns("studies", "claims.md"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, site / name)
    (site / "paperlib").symlink_to(ROOT / "paperlib")  # the source the API reference is generated from
    (site / "book" / "studies").mkdir()
    results = []
    for study, (nb, _res) in executed.items():
        shutil.copy(nb, site / "book" / "studies" / f"{study}.ipynb")
        shutil.copytree(figures_dir(nb), site / "book" / "studies" / "figures", dirs_exist_ok=True)
        results.append(nb.parent / "results" / "results.json")
    (site / "book" / "claims.md").write_text(dashboard_markdown(results))
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", str(site), "--path-output", str(site)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return site / "_build" / "html"


def test_book_builds_with_chapters_figures_and_claims(executed, site):
    for study in executed:
        page = (site / "book" / "studies" / f"{study}.html").read_text()
        assert len(re.findall(r"<img[^>]+src=", page)) >= 3
        # every figure is a numbered, captioned figure with its PNG, PDF and data (CSV) to download
        published = sorted(p.stem for p in figures_dir(executed[study][0]).glob(f"{study}-*.csv"))
        # Sphinx writes a label's underscores as hyphens in the HTML id
        published_ids = sorted(name.replace("_", "-") for name in published)
        shown = re.findall(r'<figure[^>]*id="fig-([^"]+)"', page)
        assert published and sorted(shown) == published_ids, (study, shown, published)
        for name in published:
            for ext in ("png", "pdf", "csv"):
                assert re.search(rf'href="[^"]*_downloads/[0-9a-f]+/{re.escape(name)}\.{ext}"', page), (name, ext)
        assert "Claims table" in page and "verdict" in page
        assert "Traceback" not in page and "Warning:" not in page
        # a chapter shows no stderr stream, no NaN table cell and its parameters only in the provenance block
        assert "output stderr" not in page and "stream stderr" not in page
        assert not re.search(r"<td[^>]*>\s*(NaN|nan)\s*</td>|\bnan\s*±|±\s*nan\b", page, re.IGNORECASE), study
        assert "Parameters as resolved" in page and not re.search(r"profile\s*=\s*&quot;", page)
        # the chapter states its profile, and no output box shows a Python value or a path of the machine it ran on
        assert re.search(r"profile <code[^>]*><span[^>]*>smoke<", page), study
        assert "PosixPath(" not in page and ".partial.figures" not in page and str(ROOT) not in page, study
        assert not re.search(r'<div class="cell_output[^"]*">\s*</div>', page), study
    api = (site / "book" / "api" / "paperlib" / "runner" / "index.html").read_text()
    assert 'id="paperlib.runner.run_study"' in api and "Validate parameters, then execute" in api
    dashboard = (site / "book" / "claims.html").read_text()
    assert "Data selection for molten NaCl" in dashboard
    assert len(re.findall(r"Profile <code[^>]*><span[^>]*>smoke<", dashboard)) == len(executed)  # one per study
    assert re.search(r"reproduced|inconclusive", dashboard)
    assert "Tosi" in (site / "book" / "bibliography.html").read_text()


def repository_paths() -> set[str]:
    """Every file the repository holds (``git ls-files``: committed or staged)."""
    out = subprocess.run(["git", "ls-files", "--cached"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def link_targets(site: Path) -> dict[str, list[tuple[str, str]]]:
    """Every launch, repository and download link on every page: ``{kind: [(page, href)]}`` with kinds
    ``binder``, ``repository file``, ``repository`` (the repository itself or its issues) and ``download``."""
    from paperlib.runner import repository

    url, branch = repository()
    owner_repo = url.split("github.com/", 1)[1]
    kinds: dict[str, list[tuple[str, str]]] = {"binder": [], "repository file": [], "repository": [], "download": []}
    for page in sorted(site.rglob("*.html")):
        for href in re.findall(r'href="([^"]+)"', page.read_text()):
            href = href.replace("&amp;", "&")
            if "colab.research.google.com" in href:
                kinds.setdefault("colab", []).append((str(page), href))
            elif href.startswith(f"https://mybinder.org/v2/gh/{owner_repo}"):
                kinds["binder"].append((str(page), href))
            elif href.startswith(f"{url}/blob/") or href.startswith(f"{url}/tree/"):
                kinds["repository file"].append((str(page), href))
            elif href.startswith(url):
                kinds["repository"].append((str(page), href))
            elif "_sources/" in href or "_downloads/" in href or href.endswith((".ipynb", ".csv", ".pdf", ".png")) \
                    and not href.startswith("http"):
                kinds["download"].append((str(page), href))
    return kinds


def test_every_launch_repository_and_download_link_resolves(site):
    from urllib.parse import parse_qs, urlparse

    from paperlib.runner import repository

    url, branch = repository()
    files = repository_paths()
    links = link_targets(site)
    assert "colab" not in links, links.get("colab")
    for page, href in links["binder"]:
        parsed = urlparse(href)
        assert parsed.path.endswith(f"/{branch}"), (page, href)
        target = parse_qs(parsed.query)["urlpath"][0].removeprefix("lab/tree/")
        assert target in files, f"{page}: Binder opens {target}, which the repository does not hold"
    for page, href in links["repository file"]:
        target = href.split(f"/{branch}/", 1)[1].split("#")[0]
        assert target in files or any(f.startswith(target + "/") for f in files), f"{page}: {href}"
    for page, href in links["repository"]:
        assert href.rstrip("/") in (url, f"{url}/issues") or href.startswith(f"{url}/issues/new"), (page, href)
    for page, href in links["download"]:
        target = (Path(page).parent / href.split("#")[0]).resolve()
        assert target.is_file(), f"{page}: download link {href} points at nothing"
    # every chapter links its notebook on Binder, and the Binder set-up installs the project
    assert {Path(p).stem for p, _ in links["binder"]} >= {Path(s).stem for s in files if s.startswith("notebooks/")}
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "-r ../requirements.lock" in (ROOT / "binder" / "requirements.txt").read_text()
    assert all(part in post_build for part in ("requirements-nodeps.txt", "-e .", "requirements-foundation.txt"))
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    print({k: len(v) for k, v in links.items()})


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's ``chromium`` and ``chromedriver``, installed by ``make browser``, which
    ``make test`` runs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "headless Chromium is missing: `make browser` (run by `make test`) installs " \
                                "Debian's chromium and chromium-driver"
    os.environ["SE_OFFLINE"] = "true"  # use the system driver; never download one
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,2000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver), options=opts)
    yield drv
    drv.quit()


# Severe console messages that are not the book's: the test machine has no network, so the MathJax and Thebe
# bundles on public CDNs cannot load, and sphinx-thebe 0.3 declares its THEBE_JS_URL constant twice per page
# (the book does not enable Thebe, so the failing duplicate script changes nothing a reader sees).
NOT_THE_BOOKS = (re.compile(r"^https://\S+ - Failed to load resource: net::ERR_(NAME_NOT_RESOLVED|"
                            r"INTERNET_DISCONNECTED)"),
                 re.compile(r"Uncaught SyntaxError: Identifier 'THEBE_JS_URL' has already been declared"))


def _open(browser, page: Path) -> list[str]:
    """Load ``page``; return the browser's severe console messages (script errors, missing files)."""
    browser.get_log("browser")  # drop what the previous page left
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    return [m["message"] for m in browser.get_log("browser")
            if m["level"] == "SEVERE" and not any(p.search(m["message"]) for p in NOT_THE_BOOKS)]


_FIGURES = """return Array.from(document.querySelectorAll('main img'))
              .map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0 && i.naturalHeight > 0]);"""
_TABLES = """return Array.from(document.querySelectorAll('main table')).map(t => ({
    head: Array.from(t.querySelectorAll('thead th')).map(c => c.innerText.trim()),
    rows: Array.from(t.querySelectorAll('tbody tr')).map(r => Array.from(r.cells).map(c => c.innerText.trim()))}));"""


_NUMBERED = """return Array.from(document.querySelectorAll('main figure')).map(f => {
    const img = f.querySelector('img'), cap = f.querySelector('figcaption'), r = f.getBoundingClientRect();
    return {number: (f.querySelector('.caption-number') || {innerText: ''}).innerText.trim(),
            caption: cap ? cap.innerText.trim() : '', width: r.width,
            shown: !!img && img.complete && img.naturalWidth > 0, id: f.id};});"""


def _picture_varies(png: bytes) -> bool:
    """Whether a screenshot holds a picture rather than one flat colour."""
    import io

    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png))
    return float(pixels[..., :3].std()) > 0.05


def _claims_tables(browser) -> list[dict]:
    return [t for t in browser.execute_script(_TABLES) if "verdict" in t["head"]]


def test_a_reader_sees_every_chapter_with_its_figures_and_claims(executed, site, browser):
    for study, (_nb, results) in executed.items():
        errors = _open(browser, site / "book" / "studies" / f"{study}.html")
        assert not errors, f"{study}: {errors}"
        figures = browser.execute_script(_FIGURES)
        assert len(figures) >= 3, f"{study}: {len(figures)} figures"
        assert all(ok for _, ok in figures), f"{study}: figures that did not render: " \
                                             f"{[src for src, ok in figures if not ok]}"
        numbered = browser.execute_script(_NUMBERED)
        assert len(numbered) >= 3, f"{study}: {len(numbered)} numbered figures"
        # numbered through the book: consecutive within a chapter
        first_number = int(numbered[0]["number"].removeprefix("Fig. "))
        assert [f["number"] for f in numbered] == [f"Fig. {first_number + i}" for i in range(len(numbered))], study
        # a caption says what the figure shows before its download links
        assert all(f["shown"] and len(f["caption"].split(" PNG")[0]) > 40 and f["width"] >= 400
                   for f in numbered), numbered
        from selenium.webdriver.common.by import By

        first = browser.find_element(By.ID, numbered[0]["id"])
        browser.execute_script("arguments[0].scrollIntoView();", first)
        assert _picture_varies(first.screenshot_as_png), f"{study}: the first figure shows a flat picture"
        tables = _claims_tables(browser)
        assert tables, f"{study}: no claims table"
        verdicts = [row[tables[-1]["head"].index("verdict")] for row in tables[-1]["rows"]]
        assert verdicts == [c["verdict"] for c in results["claims"]], study
        assert "Traceback" not in browser.execute_script("return document.querySelector('main').innerText")


def test_a_reader_sees_the_other_pages_and_a_dashboard_with_every_study(executed, site, browser):
    for page in PAGES:
        errors = _open(browser, site / "book" / f"{page}.html")
        assert not errors, f"{page}: {errors}"
        assert browser.execute_script("return document.querySelector('main h1') !== null"), page
    _open(browser, site / "book" / "claims.html")
    tables = _claims_tables(browser)
    assert len(tables) == len(executed)
    shown = [row[-1] for t in tables for row in t["rows"]]
    assert sorted(shown) == sorted(c["verdict"] for _nb, res in executed.values() for c in res["claims"])
    assert all(v in VERDICTS for v in shown)
    # every judged claim shows its 95 % interval as a reader sees it: [low, high]
    intervals = [row[t["head"].index("95 % interval")] for t in tables for row in t["rows"]]
    assert all(re.fullmatch(r"\[\S+, \S+\]|-", i) for i in intervals), intervals
    assert any(re.fullmatch(r"\[-?[\d.]+(e[+-]?\d+)?, -?[\d.]+(e[+-]?\d+)?\]", i) for i in intervals), intervals
