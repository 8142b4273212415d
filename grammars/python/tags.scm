; SmallCode symbol tags for Python.
; Captures: @definition.<kind> spans the symbol, @name is its identifier, @container (optional)
; names an owner that is not an enclosing node. Nesting, methods and dedup are done by the chunker.

(function_definition
  name: (identifier) @name) @definition.function

(class_definition
  name: (identifier) @name) @definition.class

; Decorators belong to the symbol they decorate (the chunker keeps the outermost match).
(decorated_definition
  definition: (function_definition
    name: (identifier) @name)) @definition.function

(decorated_definition
  definition: (class_definition
    name: (identifier) @name)) @definition.class

; Module-level UPPER_CASE assignments are constants.
(module
  (expression_statement
    (assignment
      left: (identifier) @name) @definition.constant)
  (#match? @name "^_*[A-ZÀ-ÖØ-Þ][A-Z0-9_À-ÖØ-Þ]*$"))

(module
  (expression_statement
    (assignment
      left: (identifier) @name
      type: (type
        (identifier) @_alias)) @definition.type)
  (#eq? @_alias "TypeAlias"))

(type_alias_statement
  left: (type
    (identifier) @name)) @definition.type
