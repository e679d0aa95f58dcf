"""lamina.pipelines"""
