"Installs fer_emotion; metadata comes from settings.ini (nbdev 2), the pinned dependencies from requirements.txt."
from configparser import ConfigParser
from pathlib import Path
import setuptools

cfg = ConfigParser(delimiters=['=']); cfg.read('settings.ini', encoding='utf-8'); cfg = cfg['DEFAULT']
here = Path(__file__).parent
# Runtime pins: requirements.txt up to its "# tests only" section (the one place the project's pins are recorded).
reqs = []
for line in (here/'requirements.txt').read_text().splitlines():
    if line.startswith('# tests only'): break
    if line.strip() and not line.startswith('#'): reqs.append(line.strip())

setuptools.setup(
    name=cfg['lib_name'], version=cfg['version'], description=cfg['description'],
    long_description=(here/'README.md').read_text(encoding='utf-8') if (here/'README.md').exists() else '',
    long_description_content_type='text/markdown', author=cfg['author'], author_email=cfg['author_email'],
    license='Apache-2.0', url=cfg['git_url'], python_requires='>=' + cfg['min_python'],
    packages=setuptools.find_packages(include=['fer_emotion', 'fer_emotion.*']),
    package_data={'fer_emotion': ['models/*.npz', 'models/*.json']}, include_package_data=True,
    install_requires=reqs, zip_safe=False,
    entry_points={'console_scripts': cfg.get('console_scripts', '').split(), 'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
)
