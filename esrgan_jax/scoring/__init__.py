"""Scoring: PSNR/SSIM/LPIPS in the SR papers' conventions, the evaluation tables and the comparison figure."""
