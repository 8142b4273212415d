; SmallCode symbol tags for Go (see grammars/python/tags.scm for the capture contract).

(function_declaration
  name: (identifier) @name) @definition.function

; Methods belong to their receiver type, which is not an enclosing node: @container names it.
(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [(type_identifier) @container
             (pointer_type (type_identifier) @container)
             (generic_type type: (type_identifier) @container)
             (pointer_type (generic_type type: (type_identifier) @container))]))
  name: (field_identifier) @name) @definition.method

(type_spec
  name: (type_identifier) @name
  type: (struct_type)) @definition.struct

(type_spec
  name: (type_identifier) @name
  type: (interface_type)) @definition.interface

(type_spec
  name: (type_identifier) @name
  type: [(type_identifier) (qualified_type) (generic_type) (pointer_type) (slice_type) (array_type)
         (map_type) (channel_type) (function_type)]) @definition.type

(type_alias
  name: (type_identifier) @name) @definition.type

; A lone `type X ...` spans the `type` keyword too; grouped specs span just their line.
(type_declaration
  .
  (type_spec
    name: (type_identifier) @name
    type: (struct_type))
  .) @definition.struct

(type_declaration
  .
  (type_spec
    name: (type_identifier) @name
    type: (interface_type))
  .) @definition.interface

(source_file
  (const_declaration
    (const_spec
      name: (identifier) @name) @definition.constant))

(source_file
  (var_declaration
    (var_spec
      name: (identifier) @name) @definition.variable))

(source_file
  (var_declaration
    (var_spec_list
      (var_spec
        name: (identifier) @name) @definition.variable)))

; A lone `const X = ...` / `var x = ...` spans its keyword too.
(source_file
  (const_declaration
    .
    (const_spec
      name: (identifier) @name)
    .) @definition.constant)

(source_file
  (var_declaration
    .
    (var_spec
      name: (identifier) @name)
    .) @definition.variable)
