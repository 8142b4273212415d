; SmallCode symbol tags for TypeScript and TSX (see grammars/python/tags.scm for the capture contract).

(function_declaration
  name: (identifier) @name) @definition.function

(generator_function_declaration
  name: (identifier) @name) @definition.function

(function_signature
  name: (identifier) @name) @definition.function

[(class_declaration name: (type_identifier) @name)
 (abstract_class_declaration name: (type_identifier) @name)] @definition.class

(interface_declaration
  name: (type_identifier) @name) @definition.interface

(enum_declaration
  name: (identifier) @name) @definition.enum

(type_alias_declaration
  name: (type_identifier) @name) @definition.type

(internal_module
  name: [(identifier) (nested_identifier)] @name) @definition.module

(module
  name: [(identifier) (nested_identifier)] @name) @definition.module

[(method_definition name: [(property_identifier) (private_property_identifier)] @name)
 (abstract_method_signature name: [(property_identifier) (private_property_identifier)] @name)
 (method_signature name: [(property_identifier) (private_property_identifier)] @name)] @definition.method

(public_field_definition
  name: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function) (function_expression)]) @definition.method

; Top-level `const` (plain or exported): functions when bound to a function, else constants.
(program
  (lexical_declaration
    kind: "const"
    (variable_declarator
      name: (identifier) @name
      value: [(arrow_function) (function_expression) (generator_function)])) @definition.function)

(program
  (export_statement
    declaration: (lexical_declaration
      kind: "const"
      (variable_declarator
        name: (identifier) @name
        value: [(arrow_function) (function_expression) (generator_function)]))) @definition.function)

(program
  (lexical_declaration
    kind: "const"
    (variable_declarator
      name: (identifier) @name
      value: [(string) (template_string) (number) (true) (false) (null) (object) (array) (regex)
              (call_expression) (new_expression) (member_expression) (binary_expression)
              (identifier) (as_expression) (satisfies_expression)])) @definition.constant)

(program
  (export_statement
    declaration: (lexical_declaration
      kind: "const"
      (variable_declarator
        name: (identifier) @name
        value: [(string) (template_string) (number) (true) (false) (null) (object) (array) (regex)
                (call_expression) (new_expression) (member_expression) (binary_expression)
                (identifier) (as_expression) (satisfies_expression)]))) @definition.constant)

; Exported declarations include the `export` keyword in their range.
(export_statement
  declaration: [(function_declaration name: (identifier) @name)
                (generator_function_declaration name: (identifier) @name)
                (function_signature name: (identifier) @name)]) @definition.function

(export_statement
  declaration: [(class_declaration name: (type_identifier) @name)
                (abstract_class_declaration name: (type_identifier) @name)]) @definition.class

(export_statement
  declaration: (interface_declaration name: (type_identifier) @name)) @definition.interface

(export_statement
  declaration: (enum_declaration name: (identifier) @name)) @definition.enum

(export_statement
  declaration: (type_alias_declaration name: (type_identifier) @name)) @definition.type
