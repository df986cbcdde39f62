"""recbole-ilora: iLoRA (instance-wise mixture of LoRA experts) and LLM recommenders as RecBole models."""

from setuptools import find_packages, setup

setup(
    name="recbole-ilora",
    version="0.1.0",
    description="LLM-based sequential recommendation (iLoRA) registered as RecBole models",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["recbole_ilora", "recbole_ilora.*"]) + ["recbole_ilora.properties"],
    # properties/ sits at the top of the repository (the project layout); wheels carry it inside the package.
    package_dir={"recbole_ilora.properties": "properties"},
    package_data={"recbole_ilora.properties": ["*.yaml", "*/*.yaml"]},
    install_requires=[
        "recbole==1.2.1",
        "torch>=2.6",  # install torch==2.13.0 first for the CPU build: a bare torch pulls CUDA packages
        "transformers>=5",
        "peft>=0.17",
        "gguf>=0.10",  # transformers reads the default backbone's .gguf through it
        "tabulate",
        "scipy",  # the leaderboard's significance tests (Wilcoxon signed-rank, paired t-test)
        "tqdm",
        "scikit-learn",  # the studies' K-means clusters of users and mutual information
        "matplotlib",
        # RecBole 1.2.1 runs on NumPy 1 and 2 and pandas 2 and 3 through recbole_ilora/compat.py's shims
        "numpy",
        "pandas",
    ],
    extras_require={
        "gpu": ["bitsandbytes"],
        "test": ["pytest", "psutil"],  # psutil: the distributed tests find the ranks of a torchrun job
    },
    entry_points={"console_scripts": ["run_recbole = recbole_ilora.cli:main",
                                      "leaderboard = recbole_ilora.leaderboard:main",
                                      "prepare_dataset = recbole_ilora.converters.cli:main",
                                      "study = recbole_ilora.studies:main"]},
)
