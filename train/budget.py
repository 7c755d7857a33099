"""Train a plan of runs within a wall-clock budget (genzoo.budget):
python train/budget.py --plan plans/h200_ar_gan_ign.yaml --budget-s 460 [--data-root DIR] [--out runs/budget]
"""
from genzoo.budget import main

if __name__ == "__main__":
    main()
