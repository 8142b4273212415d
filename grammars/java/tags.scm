; SmallCode symbol tags for Java (see grammars/python/tags.scm for the capture contract).

(class_declaration
  name: (identifier) @name) @definition.class

(record_declaration
  name: (identifier) @name) @definition.class

(interface_declaration
  name: (identifier) @name) @definition.interface

(annotation_type_declaration
  name: (identifier) @name) @definition.interface

(enum_declaration
  name: (identifier) @name) @definition.enum

(method_declaration
  name: (identifier) @name) @definition.method

(constructor_declaration
  name: (identifier) @name) @definition.method

; UPPER_CASE fields are constants (by convention `static final`).
((field_declaration
  declarator: (variable_declarator
    name: (identifier) @name)) @definition.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

((constant_declaration
  declarator: (variable_declarator
    name: (identifier) @name)) @definition.constant)
