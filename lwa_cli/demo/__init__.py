"""The bundled demo corpus and the tiny demo model builders."""
