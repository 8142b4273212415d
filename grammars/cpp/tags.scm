; SmallCode symbol tags for C++ (see grammars/python/tags.scm for the capture contract).

(function_definition
  declarator: [(function_declarator
                 declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name)
               (pointer_declarator
                 declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name))
               (reference_declarator
                 (function_declarator declarator: [(identifier) (field_identifier)] @name))]) @definition.function

; `Type::method(...) { ... }` outside the class: @container is the qualifying scope.
(function_definition
  declarator: [(function_declarator
                 declarator: (qualified_identifier
                   scope: (_) @container
                   name: [(identifier) (operator_name) (destructor_name)] @name))
               (pointer_declarator
                 declarator: (function_declarator
                   declarator: (qualified_identifier
                     scope: (_) @container
                     name: (identifier) @name)))
               (reference_declarator
                 (function_declarator
                   declarator: (qualified_identifier
                     scope: (_) @container
                     name: (identifier) @name)))]) @definition.method

; Member function declarations inside a class body (definitions often live in a .cpp file).
(field_declaration_list
  (field_declaration
    declarator: (function_declarator
      declarator: [(field_identifier) (operator_name) (destructor_name)] @name)) @definition.method)

(field_declaration_list
  (declaration
    declarator: (function_declarator
      declarator: [(identifier) (operator_name) (destructor_name)] @name)) @definition.method)

(class_specifier
  name: (type_identifier) @name
  body: (field_declaration_list)) @definition.class

(struct_specifier
  name: (type_identifier) @name
  body: (field_declaration_list)) @definition.struct

(union_specifier
  name: (type_identifier) @name
  body: (field_declaration_list)) @definition.struct

(enum_specifier
  name: (type_identifier) @name
  body: (enumerator_list)) @definition.enum

; Templates span their `template <...>` header.
(template_declaration
  [(class_specifier name: (type_identifier) @name body: (field_declaration_list))
   (struct_specifier name: (type_identifier) @name body: (field_declaration_list))]) @definition.class

(template_declaration
  (function_definition
    declarator: (function_declarator
      declarator: [(identifier) (field_identifier)] @name))) @definition.function

(namespace_definition
  name: [(namespace_identifier) (nested_namespace_specifier)] @name) @definition.module

(type_definition
  declarator: (type_identifier) @name) @definition.type

(alias_declaration
  name: (type_identifier) @name) @definition.type

(preproc_def
  name: (identifier) @name) @definition.constant

(preproc_function_def
  name: (identifier) @name) @definition.macro
