"""Using a trained model: sampling, reconstruction and scores (inference), the Fréchet feature
net (featurenet), PNG grids (images).
"""
