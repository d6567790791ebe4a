

def test_a_name_imported_from_another_reloaded_module_now_follows_its_own_module(
    project: Project, library: Any
) -> None:
    # v1 takes f from a and g from b; v2 takes f from b and g from a. All three are
    # reloaded together: the old a.f is a.f's old version, never b.f (one path, two modules).
    def mod(name: str, version: str) -> str:
        return source(library, f"@hook\ndef f():\n    return '{name}.f VERSION'\n\n@hook\ndef g():\n    return '{name}.g VERSION'\n", version)

    project.write("a.py", mod("a", "v1"))
    project.write("b.py", mod("b", "v1"))
    mw = start(project, "from .a import f\nfrom .b import g\n")
    a_f, _, _, b_g = library.HOOKS[:4]
    project.write("a.py", mod("a", "v2"))
    project.write("b.py", mod("b", "v2"))
    project.write("models.py", "from .b import f\nfrom .a import g\n")
    reload(mw, project, "a.py", "b.py", "models.py")
    assert (a_f(), b_g()) == ("a.f v2", "b.g v2")
