"""lamina.reports"""
